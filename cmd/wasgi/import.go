package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wasgi/wasgi/host"
	"github.com/wasgi/wasgi/sites/apache"
)

const importUsage = "usage: wasgi import apache [-o wasgi.toml] httpd.conf...\n"

// importConfig is `wasgi import apache [-o FILE] FILE...`: it translates
// Apache configuration files with mod_wsgi into wasgi TOML, written to
// stdout or FILE, and reports what became of every directive on stderr.
func importConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "apache" {
		fmt.Fprint(stderr, importUsage)
		return 2
	}
	fs := flag.NewFlagSet("wasgi import apache", flag.ContinueOnError)
	out := fs.String("o", "", "write the TOML to this file instead of stdout")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nflags:\n", importUsage)
		fs.PrintDefaults()
	}
	// Flags may come before, between or after the file names.
	var files []string
	for rest := args[1:]; ; {
		if code, ok := parseFlags(fs, rest, stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, importUsage)
		return 2
	}
	res, err := apache.Import(files...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := res.WriteReport(stderr); err != nil {
		return 1
	}
	log := host.NewLogger(stderr, "console")
	if *out == "" {
		if _, err := stdout.Write(res.TOML); err != nil {
			log.Error().Err(err).Msg("write TOML")
			return 1
		}
		return 0
	}
	if err := os.WriteFile(*out, res.TOML, 0o644); err != nil {
		log.Error().Err(err).Msg("write TOML")
		return 1
	}
	log.Info().Str("file", *out).Int("translated", res.Count(apache.Translated)).
		Int("approximated", res.Count(apache.Approximated)).Int("ignored", res.Count(apache.Ignored)).
		Msg("wrote the wasgi configuration; check it with wasgi check -c " + *out)
	return 0
}
