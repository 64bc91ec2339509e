#!/bin/sh
# install-deps.sh - install the Debian 12 packages samskap builds and tests with.
#
# Idempotent: only missing packages are installed.  As root it runs apt-get;
# otherwise it prints the apt-get line for an administrator and exits 0 when
# nothing is missing, 1 when something is.
set -eu

PACKAGES="
build-essential
cmake
pkg-config
clang-14
libclang-rt-14-dev
libzmq3-dev
libsodium-dev
libssl-dev
libuv1-dev
libmsgpack-dev
liblua5.4-dev
libsuitesparse-dev
libsqlite3-dev
libh2o-dev
libsystemd-dev
locales
iproute2
python3
python3-zmq
python3-msgpack
"

missing=""
for pkg in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done

need_locale=0
if ! locale -a 2>/dev/null | grep -qi '^nb_NO\.utf-\?8$'; then
    need_locale=1
fi

if [ -z "$missing" ] && [ "$need_locale" -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if [ -n "$missing" ]; then
        echo "install-deps: missing packages:$missing" >&2
        echo "install-deps: run as root:  apt-get install -y$missing" >&2
    fi
    if [ "$need_locale" -eq 1 ]; then
        echo "install-deps: locale nb_NO.UTF-8 missing (tests that need it skip);" >&2
        echo "install-deps: as root: sed -i 's/^# *nb_NO.UTF-8/nb_NO.UTF-8/' /etc/locale.gen && locale-gen" >&2
    fi
    [ -n "$missing" ] && exit 1
    exit 0
fi

if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

if [ "$need_locale" -eq 1 ] && [ -f /etc/locale.gen ]; then
    # The parsers are tested under a decimal-comma locale.
    if grep -q '^# *nb_NO.UTF-8' /etc/locale.gen; then
        sed -i 's/^# *nb_NO.UTF-8/nb_NO.UTF-8/' /etc/locale.gen
    elif ! grep -q '^nb_NO.UTF-8' /etc/locale.gen; then
        echo 'nb_NO.UTF-8 UTF-8' >> /etc/locale.gen
    fi
    locale-gen >/dev/null 2>&1 || echo "install-deps: locale-gen failed (nb_NO tests will skip)" >&2
fi
echo "install-deps: done"
