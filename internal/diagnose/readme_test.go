package diagnose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEListsEveryCheck keeps README "Is it working?" in step with Checks.
func TestREADMEListsEveryCheck(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start := strings.Index(readme, "## Is it working?")
	if start < 0 {
		t.Fatal(`README.md has no "## Is it working?" section`)
	}
	section := readme[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, c := range Checks {
		if !strings.Contains(section, "`"+c.ID+"`") {
			t.Errorf("README \"Is it working?\" does not list check %s", c.ID)
		}
	}
	for _, want := range []string{"**0**", "**1**", "**2**", "**3**", "-o json", "config/rbac/diagnose-reader.yaml", "docs/install.md#alerts"} {
		if !strings.Contains(section, want) {
			t.Errorf("README \"Is it working?\" does not mention %s", want)
		}
	}
}
