package gitrepo

import (
	"net/url"
	"testing"
)

func TestRepositoryURI(t *testing.T) {
	cases := []struct{ remote, dir, want string }{
		{"https://dev.azure.com/org/proj/_git/repo", "", "https://dev.azure.com/org/proj/_git/repo"},
		{"https://user:pat123@dev.azure.com/org/proj/_git/repo", "", "https://dev.azure.com/org/proj/_git/repo"},
		{"ssh://git@ssh.dev.azure.com/v3/org/proj/repo", "", "ssh://ssh.dev.azure.com/v3/org/proj/repo"},
		{"git@github.com:org/repo.git", "", "ssh://github.com/org/repo.git"},
		{"github.com:org/repo.git", "", "ssh://github.com/org/repo.git"},
		{"/check/repo.git", "", "file:///check/repo.git"},
		{"../upstream.git", "/work/main", "file:///work/upstream.git"},
		{"../upstream.git", "", ""},
		{"file:///srv/git/repo.git", "", "file:///srv/git/repo.git"},
		{"", "/x", ""},
	}
	for _, c := range cases {
		got := RepositoryURI(c.remote, c.dir)
		if got != c.want {
			t.Errorf("RepositoryURI(%q, %q) = %q, want %q", c.remote, c.dir, got, c.want)
		}
		if got == "" {
			continue
		}
		u, err := url.Parse(got)
		if err != nil || !u.IsAbs() {
			t.Errorf("RepositoryURI(%q) = %q is not an absolute URI", c.remote, got)
		}
		if u.User != nil {
			t.Errorf("RepositoryURI(%q) = %q keeps credentials", c.remote, got)
		}
	}
}
