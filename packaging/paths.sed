# The places a hand install uses (README.md, "Install", "By hand") -> where the Debian
# package puts the same files. Applied to the wrapper and to every recipe shipped in
# /usr/share/doc/mimeinject/examples/, so the examples work as installed.
s|/usr/local/bin/mimeinject|/usr/bin/mimeinject|g
s|/usr/local/libexec/mimeinject-postfix-wrapper|/usr/libexec/mimeinject/mimeinject-postfix-wrapper|g
s|/usr/local/libexec/|/usr/libexec/mimeinject/|g
