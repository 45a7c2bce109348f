#!/usr/bin/env bash
# Fetches pure-Python packages from Debian (sid by default) for Python apps,
# without installing them: each .deb is downloaded through a private apt
# configuration (never /etc/apt) and its dist-packages unpacked into one
# folder, which an app names in python_path.
#
#   runtimes/python/packages.sh                      # Django 5.2 LTS and its dependencies
#   runtimes/python/packages.sh python3-pymysql      # others
#
# WASGI_PYTHON_PACKAGES (default ${XDG_CACHE_HOME:-~/.cache}/wasgi/python-packages)
# receives dist-packages/ (the modules) and versions.txt (what came from where).
# SUITE (default sid) is the Debian suite to take them from.
set -euo pipefail
out=${WASGI_PYTHON_PACKAGES:-${XDG_CACHE_HOME:-$HOME/.cache}/wasgi/python-packages}
suite=${SUITE:-sid}
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(python3-django python3-asgiref python3-sqlparse)
log() { printf '==> %s\n' "$*" >&2; }

mkdir -p "$out"
out=$(cd "$out" && pwd) # apt reads relative paths against /etc/apt
apt=$out/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/none" "$out/dist-packages" "$out/debs"
echo "deb http://deb.debian.org/debian $suite main" >"$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/none"
	-o "Dir::Etc::Preferences=$apt/none" -o "Dir::Etc::PreferencesParts=$apt/none"
	-o "Dir::State::Lists=$apt/lists" -o "Dir::State::Status=$apt/status" -o "Dir::Cache=$apt/cache"
	-o Debug::NoLocking=1 -o APT::Sandbox::User=root -o APT::Architecture=amd64)
touch "$apt/status"
if [ -z "$(ls "$apt/lists" 2>/dev/null | grep -v partial)" ] || [ -n "$(find "$apt/lists" -maxdepth 1 -name '*Packages*' -mmin +1440)" ]; then
	log "reading Debian $suite's package list"
	apt-get "${opts[@]}" -qq update
fi
for p in "${pkgs[@]}"; do
	log "fetching $p from Debian $suite"
	(cd "$out/debs" && apt-get "${opts[@]}" -qq download "$p")
done
: >"$out/versions.txt"
for p in "${pkgs[@]}"; do
	deb=$(ls -t "$out/debs/${p}_"*.deb | head -1)
	dpkg-deb --field "$deb" Package Version Architecture | tr '\n' ' ' >>"$out/versions.txt"
	echo "($suite)" >>"$out/versions.txt"
	if [ "$(dpkg-deb --field "$deb" Architecture)" != all ]; then
		echo "$p is not pure Python (Architecture: $(dpkg-deb --field "$deb" Architecture)): its C extensions cannot load" >&2
		exit 1
	fi
	tmp=$(mktemp -d)
	dpkg-deb -x "$deb" "$tmp"
	# Debian links bundled JavaScript to its own packages
	# (/usr/share/javascript/jquery: libjs-jquery). A guest's os.Root
	# refuses links that leave the folder: put the files themselves there.
	find "$tmp/usr/lib/python3/dist-packages" -type l | while read -r link; do
		target=$(readlink -m "$(dirname "$link")/$(readlink "$link")")
		rel=${target#"$tmp"}
		case $rel in
		/usr/share/javascript/*)
			js=${rel#/usr/share/javascript/}
			lib=libjs-${js%%/*}
			if [ ! -d "$out/js/$lib" ]; then
				log "fetching $lib from Debian $suite (files $p links to)"
				(cd "$out/debs" && apt-get "${opts[@]}" -qq download "$lib")
				mkdir -p "$out/js/$lib"
				dpkg-deb -x "$(ls -t "$out/debs/${lib}_"*.deb | head -1)" "$out/js/$lib"
			fi
			file=$(readlink -f "$out/js/$lib$rel" || true)
			if [ -f "$file" ]; then
				rm "$link" && cp "$file" "$link"
			else
				echo "warning: $link links to $rel, which $lib does not have" >&2
			fi
			;;
		esac
	done
	cp -a "$tmp"/usr/lib/python3/dist-packages/. "$out/dist-packages/"
	rm -rf "$tmp"
done
# recipe names how the folder is made: callers refetch when it changes.
# 2: JavaScript links replaced by their files.
echo 2 >"$out/recipe"
# The Go test cache rechecks only files inside the module: the tests open
# the checkout's stamp (see internal/setup), which changes with this line.
stamp=$(cd "$(dirname "$0")/../.." && pwd)/.wasgi-setup
line="python-packages $out $(stat -c '%Y' "$out/versions.txt")"
if ! grep -qxF "$line" "$stamp" 2>/dev/null; then
	{ grep -v "^python-packages $out " "$stamp" 2>/dev/null || true; echo "$line"; } >"$stamp.tmp" && mv "$stamp.tmp" "$stamp" || true
fi
log "ready: $out/dist-packages ($(tr '\n' ';' <"$out/versions.txt"))"
