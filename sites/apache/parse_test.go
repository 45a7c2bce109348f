package apache

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

// flat lists the directives depth first as "file:line Name [args]", with
// sections marked by "<".
func flat(list []*Directive) []string {
	var out []string
	var walk func([]*Directive, string)
	walk = func(list []*Directive, indent string) {
		for _, d := range list {
			name := d.Name
			if d.Section {
				name = "<" + name
			}
			out = append(out, fmt.Sprintf("%s%s:%d %s %q", indent, d.File, d.Line, name, d.Args))
			walk(d.Children, indent+"  ")
		}
	}
	walk(list, "")
	return out
}

func TestParse(t *testing.T) {
	fsys := fstest.MapFS{
		"httpd.conf": {Data: []byte(`# comment
Define ROOT /srv/my site
  ServerName   example.com:80
WSGIScriptAlias / "${ROOT}/wsgi.py" process-group=x
Alias '/it''s/' "/srv/say \"hi\"/" \
    trailing
  # an indented comment \
  continued, still a comment
<VirtualHost *:80 [::1]:8080>
	<directory "/srv/a b">
		Require all granted
	</DIRECTORY>
</VirtualHost>
<IfDefine ROOT>
</IfDefine>
<IfDefine !ROOT>
</IfDefine>
Include conf.d
Include /abs/*.conf
Undefine ROOT
ServerAlias ${ROOT} ${UNSET}
`)},
		"conf.d/b.conf":     {Data: []byte("Listen 81\r\n")},
		"conf.d/a.conf":     {Data: []byte("Listen 80\n")},
		"conf.d/sub/c.conf": {Data: []byte("Listen 82")},
		"abs/x.conf":        {Data: []byte("ServerAdmin x\n")},
	}
	conf, err := ParseFS(fsys, "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`httpd.conf:2 Define ["ROOT" "/srv/my" "site"]`,
		`httpd.conf:3 ServerName ["example.com:80"]`,
		`httpd.conf:4 WSGIScriptAlias ["/" "/srv/my site/wsgi.py" "process-group=x"]`,
		`httpd.conf:5 Alias ["/it" "s/" "/srv/say \"hi\"/" "trailing"]`,
		`httpd.conf:9 <VirtualHost ["*:80" "[::1]:8080"]`,
		`  httpd.conf:10 <directory ["/srv/a b"]`,
		`    httpd.conf:11 Require ["all" "granted"]`,
		`httpd.conf:14 <IfDefine ["ROOT"]`,
		`httpd.conf:16 <IfDefine ["!ROOT"]`,
		`httpd.conf:18 Include ["conf.d"]`,
		`  conf.d/a.conf:1 Listen ["80"]`,
		`  conf.d/b.conf:1 Listen ["81"]`,
		`  conf.d/sub/c.conf:1 Listen ["82"]`,
		`httpd.conf:19 Include ["/abs/*.conf"]`,
		`  abs/x.conf:1 ServerAdmin ["x"]`,
		`httpd.conf:20 Undefine ["ROOT"]`,
		`httpd.conf:21 ServerAlias ["${ROOT}" "${UNSET}"]`,
	}
	if got := flat(conf); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !conf[5].defined || conf[6].defined {
		t.Errorf("IfDefine ROOT: %v, !ROOT: %v; want true, false", conf[5].defined, conf[6].defined)
	}
	if got := conf[7].Included; !reflect.DeepEqual(got, []string{"conf.d/a.conf", "conf.d/b.conf", "conf.d/sub/c.conf"}) {
		t.Errorf("Included = %q", got)
	}
	if got := conf[2].String(); got != `WSGIScriptAlias / "/srv/my site/wsgi.py" process-group=x` {
		t.Errorf("String() = %s", got)
	}
}

func TestParseFilesRelativeInclude(t *testing.T) {
	conf, err := ParseFiles("testdata/include.conf")
	if err != nil {
		t.Fatal(err)
	}
	var inc *Directive
	for _, d := range conf {
		if d.is("IncludeOptional") && len(d.Included) > 0 {
			inc = d
		}
	}
	if inc == nil || inc.Included[0] != "testdata/included/10-intranet.conf" || inc.Children[0].File != "testdata/included/10-intranet.conf" {
		t.Fatalf("IncludeOptional included/*.conf from testdata/include.conf: %+v", inc)
	}
}

// TestParseErrors checks that malformed configurations fail with the file
// and line of the problem.
func TestParseErrors(t *testing.T) {
	deep := fstest.MapFS{}
	for i := range maxDepth + 2 {
		deep[fmt.Sprintf("d%d.conf", i)] = &fstest.MapFile{Data: fmt.Appendf(nil, "Include d%d.conf\n", i+1)}
	}
	cases := []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"unclosed section", fstest.MapFS{"httpd.conf": {Data: []byte("Listen 80\n<VirtualHost *:80>\n  ServerName a\n")}},
			"httpd.conf:2: <VirtualHost> is never closed: missing </VirtualHost>"},
		{"unclosed nested section", fstest.MapFS{"httpd.conf": {Data: []byte("<VirtualHost *:80>\n<Directory /x>\n</VirtualHost>\n")}},
			"httpd.conf:3: </VirtualHost> closes <Directory> (line 2)"},
		{"unmatched close tag", fstest.MapFS{"httpd.conf": {Data: []byte("Listen 80\n\n</Directory>\n")}},
			"httpd.conf:3: </Directory> without a matching <Directory>"},
		{"close tag without >", fstest.MapFS{"httpd.conf": {Data: []byte("<Location />\n</Location\n")}},
			"httpd.conf:2: </Location: missing '>'"},
		{"open tag without >", fstest.MapFS{"httpd.conf": {Data: []byte("<Directory /srv\nRequire all granted\n</Directory>\n")}},
			"httpd.conf:1: <Directory /srv: missing '>' at the end of the line"},
		{"section without a name", fstest.MapFS{"httpd.conf": {Data: []byte("<>\n")}},
			"httpd.conf:1: <>: section without a name"},
		{"unclosed double quote", fstest.MapFS{"httpd.conf": {Data: []byte("# x\nServerName \"example.com\nListen 80\n")}},
			"httpd.conf:2: unclosed \" quote: \"example.com"},
		{"unclosed single quote in a section", fstest.MapFS{"httpd.conf": {Data: []byte("<Directory '/srv>\n</Directory>\n")}},
			"httpd.conf:1: <Directory>: unclosed ' quote: '/srv"},
		{"bad quote after continuation", fstest.MapFS{"httpd.conf": {Data: []byte("Alias /a \\\n  \"/b\nListen 80\n")}},
			"httpd.conf:1: unclosed \" quote"},
		{"error in an included file", fstest.MapFS{"httpd.conf": {Data: []byte("Include sites/*.conf\n")}, "sites/a.conf": {Data: []byte("\n\n<Location />\n")}},
			"sites/a.conf:3: <Location> is never closed"},
		{"section closed in another file", fstest.MapFS{"httpd.conf": {Data: []byte("<VirtualHost *>\nInclude end.conf\n")}, "end.conf": {Data: []byte("</VirtualHost>\n")}},
			"end.conf:1: </VirtualHost> without a matching <VirtualHost>"},
		{"Include loop", fstest.MapFS{"httpd.conf": {Data: []byte("Include a.conf\n")}, "a.conf": {Data: []byte("Listen 80\nInclude b.conf\n")}, "b.conf": {Data: []byte("\nInclude a.conf\n")}},
			"b.conf:2: Include loop: a.conf includes b.conf includes a.conf"},
		{"Include of itself", fstest.MapFS{"httpd.conf": {Data: []byte("Listen 80\nIncludeOptional httpd.conf\n")}},
			"httpd.conf:2: Include loop: httpd.conf includes httpd.conf"},
		{"Include too deep", deep, "Includes nested more than 32 deep"},
		{"Include of a missing file", fstest.MapFS{"httpd.conf": {Data: []byte("\nInclude missing.conf\n")}},
			"httpd.conf:2: Include missing.conf: file does not exist"},
		{"Include pattern without a match", fstest.MapFS{"httpd.conf": {Data: []byte("Include sites/*.conf\n")}},
			"httpd.conf:1: Include sites/*.conf: no file matches (IncludeOptional allows that)"},
		{"Include bad pattern", fstest.MapFS{"httpd.conf": {Data: []byte("Include sites/[.conf\n")}},
			"httpd.conf:1: Include sites/[.conf: bad pattern"},
		{"Include without argument", fstest.MapFS{"httpd.conf": {Data: []byte("Include\n")}},
			"httpd.conf:1: Include takes one file name or pattern"},
		{"file is a folder", fstest.MapFS{"httpd.conf/x": {Data: []byte("")}},
			"httpd.conf: cannot read: not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first := "httpd.conf"
			if tc.files["d0.conf"] != nil {
				first = "d0.conf"
			}
			_, err := ParseFS(tc.files, first)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error\n%v\nwant it to contain\n%s", err, tc.want)
			}
			if pe.File == "" || pe.Line == 0 && !strings.Contains(tc.name, "folder") {
				t.Errorf("error without file:line: %+v", pe)
			}
		})
	}
}

func TestParseOptionalIncludes(t *testing.T) {
	conf, err := ParseFS(fstest.MapFS{"httpd.conf": {Data: []byte("IncludeOptional none/*.conf\nIncludeOptional missing.conf\n")}}, "httpd.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(conf) != 2 || len(conf[0].Children)+len(conf[1].Children) != 0 {
		t.Fatalf("got %q", flat(conf))
	}
}

func TestParseFilesMissing(t *testing.T) {
	_, err := ParseFiles("testdata/no-such.conf")
	if err == nil || err.Error() != "testdata/no-such.conf: cannot read: no such file or directory" {
		t.Fatalf("error %v", err)
	}
}

func TestWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`a  b	c`, []string{"a", "b", "c"}},
		{`"a b" 'c d'`, []string{"a b", "c d"}},
		{`"say \"hi\"" 'it\'s'`, []string{`say "hi"`, `it's`}},
		{`"C:\path\" x"`, []string{`C:\path" x`}},
		{`a"b c"`, []string{`a"b`, `c"`}},
		{`""`, []string{""}},
		{`"a"b`, []string{"a", "b"}},
	}
	for _, tc := range cases {
		got, err := words(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("words(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"a`, `'a b`, `x "y\"`} {
		if _, err := words(bad); err == nil {
			t.Errorf("words(%s): no error", bad)
		}
	}
}
