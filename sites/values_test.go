package sites

import (
	"net/netip"
	"testing"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"512", 512, true},
		{"512B", 512, true},
		{"64KiB", 64 << 10, true},
		{"64K", 64 << 10, true},
		{"64KB", 64000, true},
		{"10MiB", 10 << 20, true},
		{"10 mib", 10 << 20, true},
		{"10M", 10 << 20, true},
		{"10MB", 10e6, true},
		{"1GiB", 1 << 30, true},
		{"1GB", 1e9, true},
		{"2TiB", 2 << 40, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"1.5GiB", 0, false},
		{"10 MiBs", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		in   string
		want string // Rule.String(), or "" for an error
	}{
		{"all granted", "all granted"},
		{"  All   Denied ", "all denied"},
		{"ip 10.0.0.0/8 192.168.1.1", "ip 10.0.0.0/8 192.168.1.1/32"},
		{"ip 10.1.2.3/16 ::1 2001:db8::/32", "ip 10.1.0.0/16 ::1/128 2001:db8::/32"},
		{"ip ::ffff:1.2.3.4", "ip 1.2.3.4/32"},
		{"valid-user", "valid-user"},
		{"user alice bob", "user alice bob"},
		{"group staff", "group staff"},
		{"", ""},
		{"all", ""},
		{"all granted please", ""},
		{"ip", ""},
		{"ip 10.0.0.300", ""},
		{"ip fe80::1%eth0", ""},
		{"valid-user alice", ""},
		{"user", ""},
		{"group", ""},
		{"allow from all", ""},
	}
	for _, tt := range tests {
		r, err := ParseRule(tt.in)
		got := ""
		if err == nil {
			got = r.String()
		}
		if got != tt.want {
			t.Errorf("ParseRule(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	r, _ := ParseRule("ip 10.0.0.0/8")
	if !r.Nets[0].Contains(netip.MustParseAddr("10.9.8.7")) || r.NeedsUser() {
		t.Errorf("rule %v", r)
	}
	if (Rule{}).NeedsUser() || (Rule{}).Kind.String() != "RuleKind(0)" {
		t.Error("zero Rule")
	}
}

func TestValidHost(t *testing.T) {
	for h, want := range map[string]bool{
		"example.com": true, "*.example.com": true, "*": true, "localhost": true,
		"127.0.0.1": true, "[::1]": true, "xn--bcher-kva.example": true,
		"": false, "*.": false, "*.*.example.com": false, "www.*.com": false, "a..b": false,
		"-a.com": false, "a-.com": false, "exa mple.com": false, "example.com:80": false, "[fe80::1%eth0]": false,
	} {
		if got := validHost(h); got != want {
			t.Errorf("validHost(%q) = %v, want %v", h, got, want)
		}
	}
}
