<?php
// The origin article's approach (A. Johnstone, "Emailing Attachments: Exim Filters and PHP
// streams", 2010): an exim transport_filter in PHP that copies stdin to stdout line by line
// with fgets/echo, and replaces a placeholder line with the file through PHP's
// convert.base64-encode stream filter (76-character lines). Written for scripts/bench.sh;
// the placeholder syntax is mimeinject's body-line form, so outputs can be compared byte for
// byte.
//
// usage: php filter.php ROOT < message > output
$root = $argv[1] ?? '.';
$prefix = 'mimeinject: path="';
while (($line = fgets(STDIN)) !== false) {
    if (strncmp($line, $prefix, strlen($prefix)) !== 0) {
        echo $line;
        continue;
    }
    $start = strlen($prefix);
    $path = substr($line, $start, strpos($line, '"', $start) - $start);
    $eol = substr($line, -2) === "\r\n" ? "\r\n" : "\n";
    $file = fopen("$root/$path", 'rb');
    if ($file === false) {
        exit(1);
    }
    stream_filter_append($file, 'convert.base64-encode', STREAM_FILTER_READ,
        ['line-length' => 76, 'line-break-chars' => $eol]);
    stream_copy_to_stream($file, STDOUT);
    echo $eol;
    fclose($file);
}
