package diagnose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDocsListEveryCheck keeps docs/install.md "5. Check that it works" in step with Checks, and
// the README's "Is it working?" pointing there.
func TestDocsListEveryCheck(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Is it working?", "antrea-issuer diagnose", "docs/install.md#5-check-that-it-works", "docs/install.md#alerts"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("README.md does not mention %s", want)
		}
	}
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	start := strings.Index(doc, "## 5. Check that it works")
	if start < 0 {
		t.Fatal(`docs/install.md has no "## 5. Check that it works" section`)
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, c := range Checks {
		if !strings.Contains(section, "`"+c.ID+"`") {
			t.Errorf("docs/install.md \"5. Check that it works\" does not list check %s", c.ID)
		}
	}
	for _, want := range []string{"**0**", "**1**", "**2**", "**3**", "-o json", "config/rbac/diagnose-reader.yaml"} {
		if !strings.Contains(section, want) {
			t.Errorf("docs/install.md \"5. Check that it works\" does not mention %s", want)
		}
	}
}
