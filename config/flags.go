package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/tollgate/tollgate/vulndb"
)

// ErrHelp is returned when the user asked for help.
var ErrHelp = pflag.ErrHelp

// UsageError is a mistake in the command line, the environment or the
// configuration file: exit code 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usageErr(err error) error {
	if err == nil || errors.Is(err, ErrHelp) {
		return err
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return err
	}
	return &UsageError{Err: err}
}

// flagSet registers every setting as a flag. Value flags keep every
// occurrence, so repeatable ones (--fail-on, --exclude) apply in order.
type flagSet struct {
	fs     *pflag.FlagSet
	values map[string]*[]string
	bools  map[string]*bool
	config *string
}

func newFlagSet(out io.Writer) *flagSet {
	f := &flagSet{
		fs:     pflag.NewFlagSet("tollgate scan", pflag.ContinueOnError),
		values: map[string]*[]string{},
		bools:  map[string]*bool{},
	}
	f.fs.SetOutput(out)
	f.fs.SortFlags = false
	for _, s := range settings {
		usage := s.usage
		if s.def != "" {
			usage += " (default " + s.def + ")"
		}
		usage += "; env " + s.Env()
		if s.isBool {
			f.bools[s.flag] = f.fs.BoolP(s.flag, s.short, s.def == "true", usage)
			continue
		}
		f.values[s.flag] = f.fs.StringArrayP(s.flag, s.short, nil, usage)
	}
	f.config = f.fs.StringP("config", "c", "", "read settings from `FILE` (default: "+DefaultFile+" at the scan root); env TOLLGATE_CONFIG")
	return f
}

// Usage writes the flags of `tollgate scan`.
func Usage(w io.Writer) {
	fmt.Fprint(w, newFlagSet(io.Discard).fs.FlagUsages())
}

// Parse builds the scan's Options from its arguments (those after "scan"),
// the environment and the configuration file. Precedence: flag, then
// TOLLGATE_* variable, then file, then default.
func Parse(args []string, getenv func(string) string) (Options, error) {
	f := newFlagSet(io.Discard)
	if err := f.fs.Parse(args); err != nil {
		return Options{}, usageErr(err)
	}
	o := Defaults()
	switch rest := f.fs.Args(); len(rest) {
	case 0:
	case 1:
		o.Path = rest[0]
	default:
		return Options{}, usageErr(fmt.Errorf("scan takes one path, got %d: %q", len(rest), rest))
	}
	if fi, err := os.Stat(o.Path); err != nil {
		return Options{}, usageErr(fmt.Errorf("scan path: %w", err))
	} else if !fi.IsDir() {
		return Options{}, usageErr(fmt.Errorf("scan path %s: not a directory", o.Path))
	}

	fromFlag := func(s setting) bool { return f.fs.Changed(s.flag) }
	fromEnv := func(s setting) bool { return getenv(s.Env()) != "" }

	cfgPath := *f.config
	explicit := cfgPath != ""
	if !explicit {
		if cfgPath = getenv("TOLLGATE_CONFIG"); cfgPath != "" {
			explicit = true
		} else {
			cfgPath = filepath.Join(o.Path, DefaultFile)
		}
	}
	if _, err := os.Stat(cfgPath); err == nil || explicit {
		fc, err := loadFile(cfgPath)
		if err != nil {
			return Options{}, usageErr(err)
		}
		if err := fc.apply(&o, func(s setting) bool { return fromFlag(s) || fromEnv(s) }); err != nil {
			return Options{}, usageErr(err)
		}
		o.ConfigFile = cfgPath
	}

	for _, s := range settings {
		if fromFlag(s) || !fromEnv(s) {
			continue
		}
		if err := s.set(&o, getenv(s.Env())); err != nil {
			return Options{}, usageErr(fmt.Errorf("%s: %w", s.Env(), err))
		}
	}
	for _, s := range settings {
		if !fromFlag(s) {
			continue
		}
		if s.isBool {
			if err := s.set(&o, strconv.FormatBool(*f.bools[s.flag])); err != nil {
				return Options{}, usageErr(fmt.Errorf("--%s: %w", s.flag, err))
			}
			continue
		}
		for _, v := range *f.values[s.flag] {
			if err := s.set(&o, v); err != nil {
				return Options{}, usageErr(fmt.Errorf("--%s: %w", s.flag, err))
			}
		}
	}
	// A pull request's base, as the CI system names it.
	if o.Secrets.Since == "" {
		for _, v := range []string{"SYSTEM_PULLREQUEST_TARGETBRANCH", "GITHUB_BASE_REF"} {
			if b := getenv(v); b != "" {
				o.Secrets.Since, o.Secrets.SinceFrom = b, v
				break
			}
		}
	}
	// Secrets never come from flags or files.
	o.Image.Password = getenv("TOLLGATE_REGISTRY_PASSWORD")
	if o.Image.CacheDir == "" {
		o.Image.CacheDir = vulndb.DefaultCacheDir(getenv)
	}
	if err := o.Validate(); err != nil {
		return Options{}, usageErr(err)
	}
	return o, nil
}
