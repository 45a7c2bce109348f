package sites

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// RuleKind is the kind of a require rule.
type RuleKind int

// The require rules, as in Apache 2.4's mod_authz_core. The zero RuleKind is
// not a rule, so a zero Rule admits no one.
const (
	// RuleAllGranted is "all granted": everyone is admitted.
	RuleAllGranted RuleKind = iota + 1
	// RuleAllDenied is "all denied": no one is admitted.
	RuleAllDenied
	// RuleIP is "ip CIDR|IP ...": clients whose address is in Nets.
	RuleIP
	// RuleValidUser is "valid-user": any user the auth app accepts.
	RuleValidUser
	// RuleUser is "user NAME ...": one of the users in Names.
	RuleUser
	// RuleGroup is "group NAME ...": a user in one of the groups in Names.
	RuleGroup
)

// String returns the rule's keyword, e.g. "valid-user".
func (k RuleKind) String() string {
	switch k {
	case RuleAllGranted:
		return "all granted"
	case RuleAllDenied:
		return "all denied"
	case RuleIP:
		return "ip"
	case RuleValidUser:
		return "valid-user"
	case RuleUser:
		return "user"
	case RuleGroup:
		return "group"
	}
	return fmt.Sprintf("RuleKind(%d)", int(k))
}

// Rule is one entry of a "require" list.
type Rule struct {
	// Kind says which rule this is.
	Kind RuleKind
	// Nets holds the networks of an IP rule; a bare IP is a /32 or /128.
	Nets []netip.Prefix
	// Names holds the user or group names of a User or Group rule.
	Names []string
}

// String returns the rule in its TOML text form, e.g.
// "ip 10.0.0.0/8 192.168.1.1/32".
func (r Rule) String() string {
	parts := []string{r.Kind.String()}
	switch r.Kind {
	case RuleIP:
		for _, n := range r.Nets {
			parts = append(parts, n.String())
		}
	case RuleUser, RuleGroup:
		parts = append(parts, r.Names...)
	}
	return strings.Join(parts, " ")
}

// NeedsUser reports whether the rule can only admit an authenticated user
// (valid-user, user, group).
func (r Rule) NeedsUser() bool {
	return r.Kind == RuleValidUser || r.Kind == RuleUser || r.Kind == RuleGroup
}

const ruleSyntax = `want "all granted", "all denied", "ip CIDR...", "valid-user", "user NAME..." or "group NAME..."`

// ParseRule parses one require entry, such as "ip 10.0.0.0/8" or
// "group staff".
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return Rule{}, errors.New("empty rule: " + ruleSyntax)
	}
	args := f[1:]
	switch strings.ToLower(f[0]) {
	case "all":
		if len(args) == 1 {
			switch strings.ToLower(args[0]) {
			case "granted":
				return Rule{Kind: RuleAllGranted}, nil
			case "denied":
				return Rule{Kind: RuleAllDenied}, nil
			}
		}
		return Rule{}, errors.New(`want "all granted" or "all denied"`)
	case "valid-user":
		if len(args) > 0 {
			return Rule{}, errors.New(`"valid-user" takes no names; use "user NAME..."`)
		}
		return Rule{Kind: RuleValidUser}, nil
	case "user", "group":
		kind := RuleUser
		if strings.ToLower(f[0]) == "group" {
			kind = RuleGroup
		}
		if len(args) == 0 {
			return Rule{}, fmt.Errorf("%q needs at least one name", kind.String())
		}
		return Rule{Kind: kind, Names: args}, nil
	case "ip":
		if len(args) == 0 {
			return Rule{}, errors.New(`"ip" needs at least one address or CIDR`)
		}
		r := Rule{Kind: RuleIP}
		for _, a := range args {
			n, err := parseNet(a)
			if err != nil {
				return Rule{}, err
			}
			r.Nets = append(r.Nets, n)
		}
		return r, nil
	}
	return Rule{}, fmt.Errorf("unknown rule %q: %s", f[0], ruleSyntax)
}

// parseNet parses a CIDR ("10.0.0.0/8", masked to its network) or a bare IP
// (a /32 or /128).
func parseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
