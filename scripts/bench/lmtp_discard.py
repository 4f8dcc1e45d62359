#!/usr/bin/python3
"""A next hop that costs almost nothing: an LMTP server on a UNIX socket that reads each
message to its end of data, answers 250 for every recipient and throws the message away,
except the first, which it keeps for checking (scripts/bench-postfix.sh, NEXTHOP=discard).
One thread per connection; it counts the messages in DIR/count when it stops.

usage: lmtp_discard.py SOCKET DIR
"""
import os
import signal
import socket
import sys
import threading

lock = threading.Lock()
count = 0


def serve(conn, keep_dir):
    global count
    f = conn.makefile("rb", buffering=1 << 16)
    conn.sendall(b"220 discard LMTP\r\n")
    rcpts = 0
    while True:
        line = f.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb == b"LHLO":
            conn.sendall(b"250-discard\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n")
        elif verb == b"MAIL":
            rcpts = 0
            conn.sendall(b"250 2.1.0 ok\r\n")
        elif verb == b"RCPT":
            rcpts += 1
            conn.sendall(b"250 2.1.5 ok\r\n")
        elif verb == b"DATA":
            conn.sendall(b"354 go ahead\r\n")
            with lock:
                first = count == 0
                count += 1
            # No PIPELINING is offered, so nothing follows the end of data before our reply.
            kept = [] if first else None
            tail = b"\r\n"
            while True:
                chunk = f.read1(1 << 16)
                if not chunk:
                    return
                if kept is not None:
                    kept.append(chunk)
                window = tail + chunk
                if window.find(b"\r\n.\r\n") >= 0:
                    break
                tail = window[-4:]
            if kept is not None:
                data = b"\r\n" + b"".join(kept)
                data = data[: data.find(b"\r\n.\r\n") + 2][2:]
                with open(os.path.join(keep_dir, "first.eml"), "wb") as out:
                    out.write(data.replace(b"\r\n..", b"\r\n.").replace(b"\r\n", b"\n"))
            conn.sendall(b"250 2.0.0 discarded\r\n" * rcpts)
        elif verb == b"QUIT":
            conn.sendall(b"221 bye\r\n")
            return
        else:
            conn.sendall(b"250 ok\r\n")


def main():
    path, keep_dir = sys.argv[1:3]
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    if os.path.exists(path):
        os.unlink(path)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(64)

    def stop(*_):
        with open(os.path.join(keep_dir, "count"), "w") as f:
            f.write(str(count))
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, keep_dir), daemon=True).start()


if __name__ == "__main__":
    main()
