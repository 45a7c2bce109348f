# wasgi: `make run` builds the example apps and serves them; `make setup`
# installs (saying what, first) and builds what the tests need beyond Go;
# `make test` runs every test (those whose needs are missing skip).
GO ?= go
WASM = GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared

.PHONY: run setup examples c-examples rust-examples test race vet bench fuzz build clean

build:
	$(GO) build -o wasgi ./cmd/wasgi

examples:
	$(WASM) -o examples/build/hello.wasm ./examples/hello
	$(WASM) -o examples/build/two-sites.wasm ./examples/two-sites/app
	$(WASM) -o examples/build/subpath.wasm ./examples/subpath
	$(WASM) -o examples/build/django-like.wasm ./examples/django-like/app
	$(WASM) -o examples/build/auth.wasm ./examples/auth/app

CLANG ?= clang
c-examples:
	mkdir -p examples/build
	$(CLANG) --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/include -o examples/build/c-hello.wasm examples/c-hello/hello.c
	$(CLANG) --target=wasm32-wasi -O2 -o examples/build/c-hello-cgi.wasm examples/c-hello/cgi.c
	$(CLANG) --target=wasm32-wasi -mexec-model=reactor -O2 -I abi/include -o examples/build/c-outbound.wasm examples/c-outbound/proxy.c

RUSTC ?= /usr/bin/rustc
RUST_TARGET ?= wasm32-wasi
rust-examples:
	mkdir -p examples/build
	$(RUSTC) --target $(RUST_TARGET) --crate-type cdylib -O -C strip=symbols -o examples/build/rust-hello.wasm examples/rust-hello/hello.rs
	$(RUSTC) --target $(RUST_TARGET) -O -C strip=symbols -o examples/build/rust-hello-cgi.wasm examples/rust-hello/cgi.rs

run:
	$(GO) run ./examples/run

setup:
	$(GO) run ./examples/run setup

test:
	$(GO) test ./...

vet:
	$(GO) vet $$($(GO) list ./... | grep -v '/sandbox$$')
	$(GO) vet -stdmethods=false ./sandbox
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./abi/... ./examples/... ./testdata/guest ./testdata/raw ./testdata/outbound ./testdata/conform/sdk ./testdata/conform/cgi ./testdata/cgi-edge

race:
	$(GO) test -race ./sandbox/... ./host/...

bench:
	$(GO) test -run=NONE -bench=. -benchmem ./sandbox/... ./host/...
	bash bench/run.sh

fuzz:
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=60s ./sites
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=60s ./sites/apache
	$(GO) test -run=NONE -fuzz=FuzzStartResponse -fuzztime=60s ./sandbox
	$(GO) test -run=NONE -fuzz=FuzzEnviron -fuzztime=60s ./abi
	$(GO) test -run=NONE -fuzz=FuzzResolve -fuzztime=60s ./host
	$(GO) test -run=NONE -fuzz=FuzzCGIResponse -fuzztime=60s ./sandbox
	$(GO) test -run=NONE -fuzz=FuzzHostFunctions -fuzztime=60s ./sandbox
	$(GO) test -run=NONE -fuzz=FuzzCoalesceData -fuzztime=60s ./internal/wasmrw
	$(GO) test -run=NONE -fuzz=FuzzInstrument -fuzztime=60s ./internal/wasmrw
	$(GO) test -run=NONE -fuzz=FuzzExportGlobals -fuzztime=60s ./internal/wasmrw
	$(GO) test -run=NONE -fuzz=FuzzBasicCredentials -fuzztime=60s ./host
	$(GO) test -run=NONE -fuzz=FuzzHeadTracker -fuzztime=60s ./host

clean:
	rm -rf examples/build wasgi
