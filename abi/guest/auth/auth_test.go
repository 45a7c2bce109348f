package auth

import (
	"testing"

	"github.com/wasgi/wasgi/abi"
)

func TestCheckPasswordCodes(t *testing.T) {
	CheckPassword(func(user, password string) (bool, bool) {
		switch user {
		case "alice":
			return password == "right", true
		case "boom":
			panic("db down")
		}
		return false, false
	})
	defer CheckPassword(nil)
	cases := []struct {
		user, pass string
		want       int32
	}{
		{"alice", "right", abi.AuthOK},
		{"alice", "wrong", abi.AuthDenied},
		{"nobody", "x", abi.AuthUnknownUser},
		{"boom", "x", 2},
	}
	for _, tc := range cases {
		if got := checkPassword(tc.user, tc.pass); got != tc.want {
			t.Errorf("%s/%s = %d, want %d", tc.user, tc.pass, got, tc.want)
		}
	}
}

func TestNoCallbackFailsClosed(t *testing.T) {
	if got := checkPassword("alice", "right"); got == abi.AuthOK {
		t.Fatal("no callback admitted a user")
	}
}

func TestGroupsForUser(t *testing.T) {
	GroupsForUser(func(user string) []string { return []string{"staff", "", "evil\nadmin", "users"} })
	defer GroupsForUser(nil)
	got, ok := groupsForUser("alice")
	if !ok || string(got) != "staff\nusers\n" {
		t.Fatalf("%q %v", got, ok)
	}
}
