package scanners

import "testing"

func TestPullRequestTarget(t *testing.T) {
	for _, c := range []struct {
		name         string
		env          map[string]string
		branch, from string
	}{
		{"not a pull request", nil, "", ""},
		{"azure", map[string]string{"SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/main"}, "refs/heads/main", "SYSTEM_PULLREQUEST_TARGETBRANCH"},
		{"github", map[string]string{"GITHUB_BASE_REF": "main"}, "main", "GITHUB_BASE_REF"},
		{"azure first", map[string]string{"SYSTEM_PULLREQUEST_TARGETBRANCH": "refs/heads/release", "GITHUB_BASE_REF": "main"}, "refs/heads/release", "SYSTEM_PULLREQUEST_TARGETBRANCH"},
		{"space trimmed", map[string]string{"SYSTEM_PULLREQUEST_TARGETBRANCH": " refs/heads/main\n"}, "refs/heads/main", "SYSTEM_PULLREQUEST_TARGETBRANCH"},
		{"space alone is unset", map[string]string{"SYSTEM_PULLREQUEST_TARGETBRANCH": "  ", "GITHUB_BASE_REF": "main"}, "main", "GITHUB_BASE_REF"},
	} {
		t.Run(c.name, func(t *testing.T) {
			branch, from := PullRequestTarget(func(k string) string { return c.env[k] })
			if branch != c.branch || from != c.from {
				t.Errorf("got %q from %q, want %q from %q", branch, from, c.branch, c.from)
			}
		})
	}
}
