package gitlab

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	gl "gitlab.com/gitlab-org/api/client-go"
)

// Access levels an app may give, by the names GitLab's documentation uses
// (the setting "access_level" and "group_access_levels").
var accessLevels = []struct {
	name  string
	value gl.AccessLevelValue
}{
	{"guest", gl.GuestPermissions},
	{"planner", gl.PlannerPermissions},
	{"reporter", gl.ReporterPermissions},
	{"developer", gl.DeveloperPermissions},
	{"maintainer", gl.MaintainerPermissions},
	{"owner", gl.OwnerPermissions},
}

// DefaultAccessLevel is the level of a group membership Keycard adds
// where the app's settings name none: GitLab's own default for a new
// member.
const DefaultAccessLevel = "developer"

// parseLevel reads an access level by name or number.
func parseLevel(s string) (gl.AccessLevelValue, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, l := range accessLevels {
		if s == l.name || s == strconv.Itoa(int(l.value)) {
			return l.value, true
		}
	}
	return 0, false
}

func levelName(v gl.AccessLevelValue) string {
	for _, l := range accessLevels {
		if l.value == v {
			return l.name
		}
	}
	return strconv.Itoa(int(v))
}

func levelNames() string {
	names := make([]string, len(accessLevels))
	for i, l := range accessLevels {
		names[i] = l.name
	}
	return strings.Join(names, ", ")
}

// parseGroupLevels reads "path=level" pairs separated by commas or white
// space: "acme/leads=maintainer, acme/support=reporter". Paths are keyed in
// lower case (GitLab routes ignore case).
func parseGroupLevels(s string) (map[string]gl.AccessLevelValue, error) {
	out := map[string]gl.AccessLevelValue{}
	for item := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		path, level, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: want group_path=level", item)
		}
		if !validGroupPath(path) {
			return nil, fmt.Errorf("%q is not a group's full path", path)
		}
		v, ok := parseLevel(level)
		if !ok {
			return nil, fmt.Errorf("%q: level %q is none of %s", item, level, levelNames())
		}
		key := strings.ToLower(path)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s is given twice", path)
		}
		out[key] = v
	}
	return out, nil
}

// validGroupPath is a group's full path: segments of letters, digits, '_',
// '-' and '.', not starting with '-' nor ending in '.', separated by '/'.
// Paths go into request paths (escaped), so nothing else passes.
func validGroupPath(p string) bool {
	if p == "" || len(p) > 255*4 {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." || seg[0] == '-' || strings.HasSuffix(seg, ".") || len(seg) > 255 {
			return false
		}
		for _, r := range seg {
			if !pathRune(r) {
				return false
			}
		}
	}
	return true
}

func pathRune(r rune) bool {
	return r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// maxUsername keeps derived usernames short enough to type.
const maxUsername = 40

// baseUsername is the username Keycard proposes for a person: the local
// part of their work e-mail, lower-cased, with every run of characters
// GitLab refuses in a username made one '-', and no leading '-', '_' or
// '.' nor trailing '.' or '-'; "user" when nothing is left.
func baseUsername(email string) string {
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	var b strings.Builder
	dash := false
	for _, r := range local {
		if pathRune(r) {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.TrimLeft(b.String(), "-_.")
	if len(s) > maxUsername {
		s = s[:maxUsername]
	}
	s = strings.TrimRight(s, ".-")
	for _, suffix := range []string{".git", ".atom"} {
		s = strings.TrimSuffix(s, suffix)
	}
	if s == "" {
		return "user"
	}
	return s
}

// candidates are the usernames tried for base, in order: base, then base
// with 1, 2, … appended (as GitLab itself suffixes usernames it derives
// for SCIM and SSO sign-ups), n in all.
func candidates(base string, n int) []string {
	out := []string{base}
	for i := 1; len(out) < n; i++ {
		out = append(out, base+strconv.Itoa(i))
	}
	return out
}

// validUsername is GitLab's namespace rule for a username HR supplies.
func validUsername(s string) bool {
	if s == "" || len(s) > 255 || strings.ContainsAny(s[:1], "-_.") || strings.HasSuffix(s, ".") ||
		strings.HasSuffix(s, ".git") || strings.HasSuffix(s, ".atom") {
		return false
	}
	return !slices.ContainsFunc([]rune(s), func(r rune) bool { return !pathRune(r) })
}
