#!/bin/sh
# Installs and uninstalls configuration files, which are the admin's once
# installed (make install and make uninstall call it).
#
#   install-conf.sh install DIR SRC NAME
#       SRC becomes DIR/NAME.  When DIR/NAME exists with other content
#       (the admin changed it), it is kept and SRC becomes DIR/NAME.default,
#       said in one line.
#   install-conf.sh uninstall DIR SRC NAME
#       DIR/NAME and DIR/NAME.default are removed when they hold what SRC
#       holds (what make install put there); a changed DIR/NAME is kept,
#       said in one line.
#
# INSTALL_DATA (from make) installs a file; "install -m 644" without it.
set -e
mode=$1 dir=$2 src=$3 name=$4
test -n "$name" || { echo "usage: $0 install|uninstall DIR SRC NAME" >&2; exit 2; }
: "${INSTALL_DATA:=install -m 644}"
dest=$dir/$name
case $mode in
install)
    if test -f "$dest" && ! cmp -s "$src" "$dest"; then
        $INSTALL_DATA "$src" "$dest.default"
        echo "$dest was changed: kept; the new one is $dest.default"
    else
        $INSTALL_DATA "$src" "$dest"
    fi
    ;;
uninstall)
    if test -f "$dest.default" && cmp -s "$src" "$dest.default"; then
        rm -f "$dest.default"
    fi
    if test -f "$dest"; then
        if cmp -s "$src" "$dest"; then
            rm -f "$dest"
        else
            echo "$dest was changed: kept"
        fi
    fi
    ;;
*)
    echo "$0: unknown mode '$mode' (install or uninstall)" >&2
    exit 2
    ;;
esac
