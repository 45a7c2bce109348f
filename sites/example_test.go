package sites_test

import (
	"fmt"
	"os"

	"github.com/wasgi/wasgi/sites"
)

func ExampleParse() {
	const config = `
[[site]]
name = "blog"
hosts = ["Blog.Example.com"]
root = "site"

  [[site.app]]
  name = "main"
  mount = "/blog/"
  module = "app.wasm"

  [[site.alias]]
  url = "/static/"
  path = "static/"
`
	cfg, err := sites.Parse("testdata/wasgi.toml", []byte(config))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cfg.WriteTable(os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Output:
	// SITE  HOSTS             KIND   URL       TARGET    GROUP      ABI
	// blog  blog.example.com  app    /blog     app.wasm  blog/main  wasgi
	//                         alias  /static/  static/   -          -
	//
	// GROUP      KIND     INSTANCES  MIN  MAX REQUESTS  REQUEST TIMEOUT  QUEUE TIMEOUT  IDLE TIMEOUT  MEMORY
	// blog/main  private  4          0    0             1m0s             10s            5m0s          256MiB
}

func ExampleErrors() {
	const config = `[server]
listen = ["127.0.0.1"]

[[site]]
name = "blog"
hosts = ["blog.example.com"]

  [[site.app]]
  name = "main"
  mount = "blog"
  modul = "app.wasm"
`
	_, err := sites.Parse("wasgi.toml", []byte(config))
	fmt.Println(err)
	// Output:
	// wasgi.toml:2:11: server.listen: invalid address "127.0.0.1": missing port in address
	// wasgi.toml:8:3: site.app.module: required key is missing
	// wasgi.toml:10:3: site.app.mount: mount "blog" must start with "/"
	// wasgi.toml:11:3: site.app.modul: unknown key (did you mean "module"?)
}
