package host

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/wasgi/wasgi/internal/testwasm"
)

// TestSecurityDocNamesRealTests: every `file_test.go TestName` that
// docs/SECURITY.md gives as the proof of a claim exists.
func TestSecurityDocNamesRealTests(t *testing.T) {
	root := testwasm.Root(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile("`((?:[\\w./-]+/)?[\\w.-]+_test\\.go) ((?:Test|Fuzz)\\w+)").FindAllStringSubmatch(string(doc), -1)
	if len(refs) < 100 {
		t.Fatalf("only %d test references found: the pattern no longer matches the document", len(refs))
	}
	for _, r := range refs {
		src, err := os.ReadFile(filepath.Join(root, r[1]))
		if err != nil || !regexp.MustCompile(`func `+r[2]+`\(`).Match(src) {
			t.Errorf("docs/SECURITY.md names %s %s, which does not exist", r[1], r[2])
		}
	}
}
