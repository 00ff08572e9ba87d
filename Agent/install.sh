#!/usr/bin/env bash
# Builds the fully static vtpm-agent (no shared library at run time, see README.md) and installs it with
# its systemd unit and default configuration.
#
#   Agent/install.sh [--prefix /usr/local] [--destdir DIR] [--no-build] [--enable]
#     --destdir DIR   stage into DIR (packaging, or copying into a guest image)
#     --no-build      install .build/release/vtpm-agent as it is
#     --enable        systemctl enable --now vtpm-agent (not with --destdir)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local destdir="" build=1 enable=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    --enable) enable=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$build" = 1 ]; then
  swift build -c release --product vtpm-agent
fi
bin=.build/release/vtpm-agent
[ -x "$bin" ] || { echo "install.sh: $bin not built" >&2; exit 1; }
install -D -m 0755 "$bin" "$destdir$prefix/sbin/vtpm-agent"
sed "s|/usr/local/sbin/vtpm-agent|$prefix/sbin/vtpm-agent|" Agent/vtpm-agent.service \
  | install -D -m 0644 /dev/stdin "$destdir/etc/systemd/system/vtpm-agent.service"
# Never overwrite an edited configuration.
if [ ! -e "$destdir/etc/vtpm-agent.conf" ]; then
  install -D -m 0644 Agent/vtpm-agent.conf "$destdir/etc/vtpm-agent.conf"
fi
install -D -m 0644 Agent/README.md "$destdir$prefix/share/doc/vtpm-agent/README.md"
echo "installed $destdir$prefix/sbin/vtpm-agent"
if [ "$enable" = 1 ] && [ -z "$destdir" ]; then
  systemctl daemon-reload
  systemctl enable --now vtpm-agent
fi
