package paths

import (
	"errors"
	"testing"
)

func TestFileURI(t *testing.T) {
	for _, c := range []struct {
		s    Style
		in   string
		want string
	}{
		{Posix, "/home/vsts/work/1/s", "file:///home/vsts/work/1/s/"},
		{Posix, "/src/my repo/", "file:///src/my%20repo/"},
		{Posix, "/src/100%/#1?", "file:///src/100%25/%231%3F/"},
		{Posix, "rel/dir", "file:///rel/dir/"},
		{Windows, `D:\a\1\s`, "file:///D:/a/1/s/"},
		{Windows, `d:\a\1\s\`, "file:///D:/a/1/s/"},
		{Windows, `C:/agent/_work/1/s`, "file:///C:/agent/_work/1/s/"},
		{Windows, `C:\Users\build agent\src`, "file:///C:/Users/build%20agent/src/"},
		{Windows, `\\buildsrv\share\work\1\s`, "file://buildsrv/share/work/1/s/"},
		{Windows, `\\buildsrv\share`, "file://buildsrv/share/"},
		{Windows, `C:\`, "file:///C:/"},
	} {
		if got := c.s.FileURI(c.in); got != c.want {
			t.Errorf("%v FileURI(%q) = %q, want %q", c.s, c.in, got, c.want)
		}
	}
}

func TestIsAbsAndClean(t *testing.T) {
	for _, c := range []struct {
		s     Style
		in    string
		abs   bool
		clean string
	}{
		{Posix, "/a/../b/./c/", true, "/b/c"},
		{Posix, `C:\a`, false, `C:\a`},
		{Posix, "a//b", false, "a/b"},
		{Windows, `C:\a\..\b`, true, "C:/b"},
		{Windows, `c:/a`, true, "C:/a"},
		{Windows, `C:a`, false, "C:a"},
		{Windows, `\a`, false, "/a"},
		{Windows, `\\srv\share\x\..\y`, true, "//srv/share/y"},
		{Windows, `\\srv`, false, "/srv"},
		{Windows, `a\b`, false, "a/b"},
	} {
		if got := c.s.IsAbs(c.in); got != c.abs {
			t.Errorf("%v IsAbs(%q) = %v", c.s, c.in, got)
		}
		if got := c.s.Clean(c.in); got != c.clean {
			t.Errorf("%v Clean(%q) = %q, want %q", c.s, c.in, got, c.clean)
		}
	}
}

func TestWithin(t *testing.T) {
	for _, c := range []struct {
		s       Style
		root, p string
		rel     string
		ok      bool
	}{
		{Posix, "/src", "/src/a/b.tf", "a/b.tf", true},
		{Posix, "/src/", "/src", ".", true},
		{Posix, "/src", "/srcx/a", "", false},
		{Posix, "/src", "/SRC/a", "", false},
		{Posix, "/src", "/src/../etc/passwd", "", false},
		{Windows, `D:\a\1\s`, `D:\a\1\s\infra\main.tf`, "infra/main.tf", true},
		{Windows, `D:\a\1\s`, `d:\A\1\S\infra\main.tf`, "infra/main.tf", true},
		{Windows, `D:\a\1\s`, `D:/a/1/s/k8s/deploy.yaml`, "k8s/deploy.yaml", true},
		{Windows, `D:\a\1\s`, `C:\a\1\s\main.tf`, "", false},
		{Windows, `D:\a\1\s`, `D:\a\1\sx\main.tf`, "", false},
		{Windows, `D:\a\1\s`, `D:\a\1\s\..\secrets.txt`, "", false},
		{Windows, `\\srv\share\s`, `\\SRV\Share\s\main.tf`, "main.tf", true},
		{Windows, `\\srv\share\s`, `\\srv\other\s\main.tf`, "", false},
		{Windows, `\\srv\share\s`, `D:\s\main.tf`, "", false},
		{Windows, `D:\a\1\s`, `infra\main.tf`, "", false},
	} {
		rel, ok := c.s.Within(c.root, c.p)
		if rel != c.rel || ok != c.ok {
			t.Errorf("%v Within(%q, %q) = %q, %v; want %q, %v", c.s, c.root, c.p, rel, ok, c.rel, c.ok)
		}
	}
}

func TestRel(t *testing.T) {
	for _, c := range []struct {
		s             Style
		root, p, base string
		want          string
		outside       bool
	}{
		{Posix, "/src", "charts/app/values.yaml", "", "charts/app/values.yaml", false},
		{Posix, "/src", "../values.yaml", "charts/app", "charts/values.yaml", false},
		{Posix, "/src", "../../../etc/passwd", "charts/app", "", true},
		{Posix, "/src", "/src/policy/baseline.sarif", "", "policy/baseline.sarif", false},
		{Posix, "/src", "/etc/passwd", "", "", true},
		{Posix, "/src", "a\x00b", "", "", true},
		{Windows, `D:\a\1\s`, `charts\app\values.yaml`, "", "charts/app/values.yaml", false},
		{Windows, `D:\a\1\s`, `..\values.yaml`, "charts/app", "charts/values.yaml", false},
		{Windows, `D:\a\1\s`, `..\..\..\Windows\win.ini`, "charts/app", "", true},
		{Windows, `D:\a\1\s`, `D:\a\1\s\.tollgate.yaml`, "", ".tollgate.yaml", false},
		{Windows, `D:\a\1\s`, `C:\Windows\win.ini`, "", "", true},
		{Windows, `D:\a\1\s`, `C:secrets.txt`, "", "", true},
		{Windows, `D:\a\1\s`, `\secrets.txt`, "", "", true},
		{Windows, `D:\a\1\s`, `\\attacker\share\x`, "", "", true},
	} {
		got, err := c.s.Rel(c.root, c.p, c.base)
		if c.outside {
			if !errors.Is(err, ErrOutside) {
				t.Errorf("%v Rel(%q, %q, %q) = %q, %v; want ErrOutside", c.s, c.root, c.p, c.base, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v Rel(%q, %q, %q) = %q, %v; want %q", c.s, c.root, c.p, c.base, got, err, c.want)
		}
	}
}

func TestJoin(t *testing.T) {
	for _, c := range []struct {
		s    Style
		in   []string
		want string
	}{
		{Posix, []string{"/home/vsts/work/1/a", "CodeAnalysisLogs"}, "/home/vsts/work/1/a/CodeAnalysisLogs"},
		{Windows, []string{`D:\a\1\a`, "CodeAnalysisLogs"}, `D:\a\1\a\CodeAnalysisLogs`},
		{Windows, []string{`D:\a\1\a\`, "CodeAnalysisLogs", "tollgate.sarif"}, `D:\a\1\a\CodeAnalysisLogs\tollgate.sarif`},
		{Windows, []string{`\\srv\share\_temp`, "x.md"}, `\\srv\share\_temp\x.md`},
		{Windows, []string{"", "x"}, "x"},
	} {
		if got := c.s.Join(c.in...); got != c.want {
			t.Errorf("%v Join(%q) = %q, want %q", c.s, c.in, got, c.want)
		}
	}
}
