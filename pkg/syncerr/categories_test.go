package syncerr

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestEveryCodeHasACategory: every failure code declared in the code base
// has a plain explanation and a next step (P22).
func TestEveryCodeHasACategory(t *testing.T) {
	out, err := exec.Command("git", "grep", "-h", "-E", `Code[A-Za-z]* *(syncerr\.)?Code = "[A-Z_]+"`, "--", "../../*.go", ":!*_test.go").Output()
	if err != nil {
		t.Skipf("git grep unavailable: %v", err)
	}
	re := regexp.MustCompile(`"([A-Z_]+)"`)
	known := map[Code]bool{}
	for _, c := range categories {
		if c.Title == "" || c.Explanation == "" || c.NextStep == "" {
			t.Errorf("%s lacks words", c.Code)
		}
		known[c.Code] = true
	}
	found := 0
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			found++
			if !known[Code(m[1])] {
				t.Errorf("failure code %s has no category", m[1])
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d code declarations: the search is broken", found)
	}
}
