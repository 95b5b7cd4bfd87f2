// Command tool runs the store.
package main

import (
	"fmt"
	st "example.com/tool/internal/store"
	"example.com/other/pkg"
)

// Limit caps the entries.
const Limit = 10

// Server serves the store.
type Server struct {
	db *st.DB
}

// Handler handles requests.
type Handler interface {
	Handle(req Request) error
}

// Serve starts serving.
func (s *Server) Serve(addr string) error {
	fmt.Println(addr)
	return s.db.Open(addr)
}

func main() {
	s := &Server{db: st.New()}
	_ = s.Serve(":80")
	pkg.Run()
}
