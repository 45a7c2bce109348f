#!/usr/bin/env bash
# Builds wasgi's Python runtime: CPython 3.11 for wasm32-wasi from Debian's
# source packages, linked into a reactor that speaks the wasgi ABI, plus the
# standard library compiled to .pyc. Every stage is cached in the build
# folder, so a second run only redoes what changed.
#
#   runtimes/python/build.sh            # build into $WASGI_PYTHON
#   runtimes/python/build.sh --deps     # the Debian packages the build needs, one a line
#   runtimes/python/build.sh --check    # those of them not installed (exit 1 if any); builds nothing
#
# WASGI_PYTHON (default ${XDG_CACHE_HOME:-~/.cache}/wasgi/python) receives
#   python-wsgi.wasm   the runtime module
#   lib/python3.11/    the standard library, mounted read-only at /usr/local/lib/python3.11
# and $WASGI_PYTHON.build holds the sources and objects (about 400 MB).
#
# When Debian packages it needs are missing, it names them all and the
# apt-get command, then runs that command (with sudo unless root). With
# WASGI_NO_INSTALL=1 it stops there instead, exit status 3, installing
# nothing: `go run ./examples/run setup` sets it, having installed
# everything the tests need with one apt-get of its own.
#
# Each stage prints a line (==>) as it starts; the long ones, CPython's
# configure and make, write their output to a log in the build folder and
# print a line every 30 seconds while they run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
log() { printf '==> %s\n' "$*" >&2; }

# The Debian packages the build needs: clang 14 with wasi-libc, lld
# (wasm-ld) and llvm (llvm-ar, llvm-ranlib); make; the build Python, which
# must be the same 3.11 as the target; xz for the source tarballs.
deps=(clang lld llvm wasi-libc libclang-rt-14-dev-wasm32 make python3.11 xz-utils)
installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]; }
need=()
for p in "${deps[@]}"; do
	installed "$p" || need+=("$p")
done
case ${1:-} in
"") ;;
--deps)
	printf '%s\n' "${deps[@]}"
	exit 0
	;;
--check)
	[ ${#need[@]} -eq 0 ] && exit 0
	printf '%s\n' "${need[@]}"
	echo "build.sh: missing Debian packages: ${need[*]}" >&2
	exit 1
	;;
*)
	echo "usage: $0 [--deps | --check]" >&2
	exit 2
	;;
esac

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo "
if [ ${#need[@]} -gt 0 ]; then
	cmd="${sudo}apt-get update -qq && ${sudo}apt-get install -y ${need[*]}"
	if [ "${WASGI_NO_INSTALL:-}" = 1 ] || ! command -v apt-get >/dev/null; then
		echo "build.sh: the Python runtime's build needs Debian packages that are not installed: ${need[*]}" >&2
		echo "  install them with: $cmd" >&2
		echo "  (or run: go run ./examples/run setup, which installs everything the tests need)" >&2
		exit 3
	fi
	log "installing the Debian packages the build needs: ${need[*]}"
	log "running: $cmd"
	${sudo}apt-get update -qq
	DEBIAN_FRONTEND=noninteractive ${sudo}apt-get install -y "${need[@]}"
fi
buildpy=/usr/bin/python3.11

out=${WASGI_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/wasgi/python}
work=${WASGI_PYTHON_BUILD:-$out.build}
jobs=${JOBS:-$(nproc)}
mkdir -p "$out" "$work"
out=$(cd "$out" && pwd)
log "building the Python runtime into $out (build folder $work)"

# Sources: Debian's own packages, through a private apt configuration so
# that /etc/apt is left alone. python3.11 and zlib come from bookworm;
# sqlite3 from sid, as bookworm's 3.40 predates SQLite's WASI support (its
# os_unix.c does not know __wasi__).
src=$work/src
sources="python3.11/bookworm zlib/bookworm sqlite3/sid"
if [ "$(cat "$src/.done" 2>/dev/null)" != "$sources" ]; then
	log "fetching Debian sources: $sources"
	apt=$work/apt
	rm -rf "$src"
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$src"
	printf 'deb-src http://deb.debian.org/debian %s main\n' bookworm sid >"$apt/sources.list"
	opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=$apt/none"
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1
		-o APT::Sandbox::User=root)
	apt-get "${opts[@]}" -qq update
	# shellcheck disable=SC2086 # one word per package
	(cd "$src" && apt-get "${opts[@]}" -qq source --download-only $sources)
	echo "$sources" >"$src/.done"
fi

# zlib, cross-built as a static library (zlib and friends need it).
zlib=$work/zlib
if [ ! -f "$zlib/lib/libz.a" ]; then
	log "building zlib for wasm32-wasi"
	rm -rf "$work/zlib-src" && mkdir -p "$work/zlib-src"
	tar -xf "$(ls "$src"/zlib_*.orig.tar.* | head -1)" -C "$work/zlib-src" --strip-components=1
	(cd "$work/zlib-src" &&
		CHOST=wasm32-wasi CC="clang --target=wasm32-wasi" AR=llvm-ar RANLIB=llvm-ranlib \
			CFLAGS="-O2 -D_WASI_EMULATED_SIGNAL" ./configure --static --prefix="$zlib" >/dev/null &&
		make -s -j"$jobs" libz.a >/dev/null && make -s install >/dev/null)
fi

# SQLite, as a static library: its amalgamation (sqlite3.c, made from the
# source tree by the tree's own tool with a native jimsh, no Tcl needed),
# compiled for wasm32-wasi. The options: one thread per instance; no
# extensions to load (no dlopen) and no mmap (no shared memory in WASI);
# temporary tables and indices in memory, as the guest may have no
# writable temporary folder; nanosleep for the busy timeout's short naps;
# what Debian's sqlite3 enables that apps may count on (FTS5, math
# functions). Locking is added at run time by reactor/wasgi_sqlite.c.
sqlite=$work/sqlite
sqlite_recipe=1
if [ "$(cat "$sqlite/.built" 2>/dev/null)" != "$sqlite_recipe" ]; then
	log "building SQLite for wasm32-wasi"
	rm -rf "$work/sqlite-src" "$sqlite" && mkdir -p "$work/sqlite-src" "$sqlite/amalgamation" "$sqlite/include" "$sqlite/lib"
	tar -xf "$(ls "$src"/sqlite3_*.orig.tar.* | head -1)" -C "$work/sqlite-src" --strip-components=1
	(cd "$sqlite/amalgamation" &&
		CC=clang "$work/sqlite-src/configure" --disable-tcl >configure.log 2>&1 &&
		make sqlite3.c >make.log 2>&1 &&
		clang --target=wasm32-wasi -O2 -c sqlite3.c -o sqlite3.o \
			-DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_MAX_MMAP_SIZE=0 \
			-DSQLITE_DEFAULT_MEMSTATUS=0 -DSQLITE_TEMP_STORE=2 \
			-DHAVE_NANOSLEEP=1 -DHAVE_PREAD=1 -DHAVE_PWRITE=1 -DHAVE_LOCALTIME_R=1 -DHAVE_GMTIME_R=1 \
			-DSQLITE_ENABLE_FTS5 -DSQLITE_ENABLE_MATH_FUNCTIONS &&
		llvm-ar rcs "$sqlite/lib/libsqlite3.a" sqlite3.o &&
		cp sqlite3.h sqlite3ext.h "$sqlite/include/" && echo "$sqlite_recipe" >"$sqlite/.built") || {
		tail -20 "$sqlite/amalgamation/configure.log" "$sqlite/amalgamation/make.log" 2>/dev/null >&2
		exit 1
	}
fi

# CPython: upstream 3.11 as Debian ships it (the .orig tarball), configured
# with CPython's own WASI site file.
cpy=$work/cpython
# recipe names what the CPython build below is made with: change it with
# the flags, so that a build folder made the old way is rebuilt.
# 3: no clock_nanosleep, in libc or -lrt (wazero refuses absolute sleeps: time.sleep failed).
# 4: _sqlite3, against the SQLite above.
recipe=4
if [ "$(cat "$cpy/.built" 2>/dev/null)" != "$recipe" ]; then
	log "building CPython for wasm32-wasi: configure, then make -j$jobs (2-4 minutes on two cores; output in $work/configure.log and $work/make.log)"
	rm -rf "$cpy" "$work/configure.log" "$work/make.log" && mkdir -p "$cpy"
	# A line every 30 seconds while it runs, so that a quiet terminal or CI
	# log is not mistaken for a hung one.
	(
		start=$SECONDS
		while sleep 30 </dev/null >/dev/null 2>&1; do
			if [ -e "$work/make.log" ]; then
				log "  ... CPython, $((SECONDS - start)) s: make, $(find "$cpy" -name "*.o" 2>/dev/null | wc -l) of about 220 object files"
			else
				log "  ... CPython, $((SECONDS - start)) s: configure"
			fi
		done
	) &
	ticker=$!
	trap 'kill $ticker 2>/dev/null || true' EXIT
	tar -xf "$(ls "$src"/python3.11_*.orig.tar.* | head -1)" -C "$cpy" --strip-components=1
	(cd "$cpy" &&
		CONFIG_SITE=Tools/wasm/config.site-wasm32-wasi \
			CC="clang --target=wasm32-wasi" CPP="clang --target=wasm32-wasi -E" \
			AR=llvm-ar RANLIB=llvm-ranlib \
			CFLAGS="-O2 -D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS" \
			LDFLAGS="-lwasi-emulated-signal -lwasi-emulated-getpid -lwasi-emulated-process-clocks" \
			ZLIB_CFLAGS="-I$zlib/include" ZLIB_LIBS="-L$zlib/lib -lz" \
			LIBSQLITE3_CFLAGS="-I$sqlite/include" LIBSQLITE3_LIBS="-L$sqlite/lib -lsqlite3 -lm" \
			PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= \
			py_cv_module__lzma=n/a py_cv_module__uuid=n/a py_cv_module__crypt=n/a \
			py_cv_module__bz2=n/a py_cv_module__ctypes=n/a \
			py_cv_module_readline=n/a py_cv_module__curses=n/a py_cv_module__curses_panel=n/a \
			py_cv_module__dbm=n/a py_cv_module__gdbm=n/a py_cv_module__tkinter=n/a \
			py_cv_module__ssl=n/a py_cv_module__hashlib=n/a py_cv_module_nis=n/a \
			ac_cv_func_clock_nanosleep=no ac_cv_lib_rt_clock_nanosleep=no \
			./configure -q --host=wasm32-unknown-wasi --build=x86_64-pc-linux-gnu \
			--with-build-python=$buildpy --disable-test-modules --without-ensurepip \
			>"$work/configure.log" 2>&1 &&
		make -j"$jobs" >"$work/make.log" 2>&1 && echo "$recipe" >.built) || {
		tail -40 "$work/configure.log" "$work/make.log" 2>/dev/null >&2
		exit 1
	}
	kill $ticker 2>/dev/null || true
	trap - EXIT
fi

# The runtime module: the reactor in reactor/*.c (wasgi_python.c, and
# wasgi_sqlite.c, SQLite's locks through the host) linked with libpython
# and SQLite.
wasm=$out/python-wsgi.wasm
stale=""
for f in "$here"/reactor/*.c "$here/../../abi/include/wasgi.h" "$cpy/.built" "$sqlite/.built"; do
	[ "$f" -nt "$wasm" ] && stale=1
done
if [ ! -f "$wasm" ] || [ -n "$stale" ]; then
	log "linking python-wsgi.wasm"
	clang --target=wasm32-wasi -mexec-model=reactor -O2 \
		-D_WASI_EMULATED_SIGNAL -D_WASI_EMULATED_GETPID -D_WASI_EMULATED_PROCESS_CLOCKS \
		-I"$cpy/Include" -I"$cpy" -I"$here/../../abi/include" -I"$sqlite/include" \
		-o "$wasm.tmp" "$here"/reactor/*.c \
		"$cpy/libpython3.11.a" "$cpy/Modules/_decimal/libmpdec/libmpdec.a" "$cpy/Modules/expat/libexpat.a" \
		-L"$sqlite/lib" -lsqlite3 -L"$zlib/lib" -lz \
		-lwasi-emulated-signal -lwasi-emulated-getpid -lwasi-emulated-process-clocks -lm \
		-Wl,-z,stack-size=1048576 -Wl,--stack-first -Wl,--initial-memory=16777216 -Wl,--strip-debug
	mv "$wasm.tmp" "$wasm"
fi

# The standard library, without what cannot run in WASI or is only for
# developing CPython, compiled to .pyc by the build Python (same 3.11
# bytecode), plus the runtime's own modules: the bridge, _wasgi_socket, and
# ssl.py, which replaces CPython's (that one needs OpenSSL; in wasgi the
# host does TLS).
lib=$out/lib/python3.11
stale=""
for f in "$here"/reactor/*.py; do
	[ "$f" -nt "$lib/.done" ] && stale=1
done
if [ ! -f "$lib/.done" ] || [ -n "$stale" ]; then
	log "installing the standard library"
	rm -rf "$lib" && mkdir -p "$lib"
	(cd "$cpy/Lib" && tar -cf - --exclude=test --exclude=tests --exclude=idlelib --exclude=tkinter \
		--exclude=turtledemo --exclude=ensurepip --exclude=venv --exclude=__pycache__ \
		--exclude=distutils --exclude=lib2to3 --exclude=pydoc_data --exclude=unittest/test . ) | tar -xf - -C "$lib"
	cp "$cpy"/build/lib.wasi-wasm32-3.11/_sysconfigdata_*.py "$lib/"
	cp "$here"/reactor/*.py "$lib/"
	"$buildpy" -m compileall -q -j "$jobs" "$lib" >/dev/null || true
	touch "$lib/.done"
fi
# Time zone data, mounted at /usr/share/zoneinfo: zoneinfo and Debian's
# pytz look there.
if [ ! -f "$out/zoneinfo/UTC" ] && [ -d /usr/share/zoneinfo ]; then
	log "copying the time zone database"
	mkdir -p "$out/zoneinfo" && cp -rL /usr/share/zoneinfo/. "$out/zoneinfo/" 2>/dev/null || true
fi
# An empty folder mounted read-only at /, so that "/" exists for the guest
# (os.makedirs("/media") stats it) while nothing in it does.
mkdir -p "$out/root"
# The Go test cache rechecks only files inside the module, never this
# folder: the stamp in the checkout (see internal/setup) is the file the
# tests open, so that a build changing the runtime reruns them.
stamp=$(cd "$here/../.." && pwd)/.wasgi-setup
line="python-runtime $out $(stat -c '%s %Y' "$wasm" "$lib/.done" | tr '\n' ' ')"
if ! grep -qxF "$line" "$stamp" 2>/dev/null; then
	{ grep -v "^python-runtime $out " "$stamp" 2>/dev/null || true; echo "$line"; } >"$stamp.tmp" && mv "$stamp.tmp" "$stamp" || true
fi
log "python runtime ready in $out ($(du -sh "$wasm" | cut -f1) module, $(du -sh "$lib" | cut -f1) stdlib)"
