module github.com/wasgi/wasgi

go 1.26

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/mattn/go-isatty v0.0.20
	github.com/rs/zerolog v1.35.1
	github.com/tetratelabs/wazero v1.12.0
	golang.org/x/sys v0.44.0
)

require github.com/mattn/go-colorable v0.1.14 // indirect
