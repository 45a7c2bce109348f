package apache

import (
	"net/netip"
	"slices"
	"strings"
)

// maxNets bounds the networks of one ip rule made by set arithmetic: past
// it, the rule is too long to read and the block is denied instead.
const maxNets = 64

// everyone is every IPv4 and IPv6 address, as networks.
var everyone = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// contains reports whether network a holds all of network b.
func contains(a, b netip.Prefix) bool {
	return a.Bits() <= b.Bits() && a.Contains(b.Addr())
}

// subtract returns the addresses of a that are in none of b, as networks.
func subtract(a, b []netip.Prefix) []netip.Prefix {
	out := slices.Clone(a)
	for _, d := range b {
		var next []netip.Prefix
		for _, p := range out {
			next = append(next, cut(p.Masked(), d.Masked())...)
			if len(next) > 4*maxNets {
				return next
			}
		}
		out = next
	}
	return out
}

// cut returns p without the addresses of d, as networks: p itself, nothing,
// or the halves of p that d does not cover, split until d is isolated.
func cut(p, d netip.Prefix) []netip.Prefix {
	switch {
	case !p.Overlaps(d):
		return []netip.Prefix{p}
	case contains(d, p):
		return nil
	}
	lo, _ := p.Addr().Prefix(p.Bits() + 1)
	hi := netip.PrefixFrom(halfway(p), p.Bits()+1)
	return append(cut(lo, d), cut(hi, d)...)
}

// halfway returns the first address of the upper half of p.
func halfway(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bit := p.Bits()
	b[bit/8] |= 0x80 >> (bit % 8)
	a, _ := netip.AddrFromSlice(b)
	return a
}

// intersect returns the addresses in both a and b, as networks.
func intersect(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range a {
		for _, y := range b {
			switch {
			case contains(x, y):
				out = append(out, y.Masked())
			case contains(y, x):
				out = append(out, x.Masked())
			}
		}
	}
	return compact(out)
}

// compact drops networks that another one of the list holds.
func compact(list []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for i, p := range list {
		held := slices.ContainsFunc(list, func(q netip.Prefix) bool {
			return q != p && contains(q, p)
		}) || slices.Contains(list[:i], p)
		if !held {
			out = append(out, p)
		}
	}
	return out
}

// netRule writes networks as one require rule: "all granted" when they are
// every address, "all denied" when none, else "ip ...". Past maxNets it is
// "all denied", and tooMany is true.
func netRule(list []netip.Prefix) (rule string, tooMany bool) {
	list = compact(list)
	if len(subtract(everyone, list)) == 0 {
		return "all granted", false
	}
	switch {
	case len(list) == 0:
		return "all denied", false
	case len(list) > maxNets:
		return "all denied", true
	}
	words := []string{"ip"}
	for _, p := range list {
		words = append(words, formatNet(p))
	}
	return strings.Join(words, " "), false
}
