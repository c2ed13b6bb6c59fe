#!/bin/sh
# build.sh BINARY HOST_BINARY ARCH VERSION OUT.deb: stages the package tree
# and builds it with dpkg-deb (make deb / make dist call it). HOST_BINARY is
# a redund that runs here: it prints the man page and completion scripts.
set -eu
bin=$1 host=$2 arch=$3 version=$4 out=$5
top=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

install -D -m 0755 "$bin" "$stage/usr/bin/redund"
for u in "$top"/dist/systemd/*.service; do
	install -D -m 0644 "$u" "$stage/usr/lib/systemd/system/$(basename "$u")"
done
mkdir -p "$stage/usr/share/man/man1"
"$host" man | gzip -9n > "$stage/usr/share/man/man1/redund.1.gz"
install -d "$stage/usr/share/bash-completion/completions" "$stage/usr/share/zsh/vendor-completions" \
	"$stage/usr/share/fish/vendor_completions.d"
"$host" completion bash > "$stage/usr/share/bash-completion/completions/redund"
"$host" completion zsh > "$stage/usr/share/zsh/vendor-completions/_redund"
"$host" completion fish > "$stage/usr/share/fish/vendor_completions.d/redund.fish"
install -D -m 0644 "$top/docs/examples/redund.toml" "$stage/etc/redund/redund.toml"
install -d "$stage/usr/share/doc/redund/examples"
install -m 0644 "$top"/docs/examples/*.toml "$stage/usr/share/doc/redund/examples/"
install -m 0644 "$top/README.md" "$top/docs/service.md" "$stage/usr/share/doc/redund/"

install -d "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
	"$top/dist/deb/control" > "$stage/DEBIAN/control"
install -m 0644 "$top/dist/deb/conffiles" "$stage/DEBIAN/conffiles"
install -m 0755 "$top/dist/deb/postinst" "$top/dist/deb/prerm" "$top/dist/deb/postrm" "$stage/DEBIAN/"

mkdir -p "$(dirname "$out")"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out"
