package sites

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEveryKeyDocumented checks docs/configuration.md against the schema:
// every key in its tables and in a TOML example.
func TestEveryKeyDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var examples strings.Builder
	for _, block := range regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		examples.WriteString(block[1])
	}
	all := Keys()
	for table, keys := range all {
		for _, k := range keys {
			if _, sub := all[strings.TrimPrefix(table+"."+k, ".")]; sub && table != "server" || table == "" {
				continue // [[site.app]] and friends: tables, documented as sections
			}
			if !strings.Contains(doc, "`"+k+"`") {
				t.Errorf("%s.%s: not in docs/configuration.md", table, k)
			}
			if !regexp.MustCompile(`(?m)(^|[\s{,])` + regexp.QuoteMeta(k) + `\s*=`).MatchString(examples.String()) {
				t.Errorf("%s.%s: no TOML example in docs/configuration.md", table, k)
			}
		}
	}
}
