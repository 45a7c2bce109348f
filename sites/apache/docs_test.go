package apache

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestDocExample checks the example of docs/coming-from-apache.md against
// the translation of its Apache configuration: the TOML as shown, and each
// report line shown as the start of a line of the report.
func TestDocExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/coming-from-apache.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(lang string) string {
		m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("no ```%s block", lang)
		}
		return m[1]
	}
	conf, err := ParseFS(fstest.MapFS{"mysite.conf": {Data: []byte(block("apache"))}}, "mysite.conf")
	if err != nil {
		t.Fatal(err)
	}
	res := Translate(conf)
	toml := string(res.TOML)
	if want := block("toml"); !strings.HasSuffix(toml, want) {
		t.Errorf("the doc's TOML is not the end of the translation:\n%s", toml)
	}
	var report strings.Builder
	if err := res.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	shown := regexp.MustCompile("(?s)reports \\(long lines cut\nhere\\):\n\n```\n(.*?)```").FindStringSubmatch(string(b))
	if shown == nil {
		t.Fatal("no report in the doc")
	}
	for _, line := range strings.Split(strings.TrimSpace(shown[1]), "\n") {
		if line == "..." {
			continue
		}
		line = strings.TrimSuffix(line, "...")
		if !strings.Contains("\n"+report.String(), "\n"+line) {
			t.Errorf("the doc shows a report line the translation does not make:\n%s\nreport:\n%s", line, report.String())
		}
	}
}
