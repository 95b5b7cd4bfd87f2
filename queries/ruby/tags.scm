; Tag query for Ruby, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-ruby ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class module
;                       function method constant (a `def` at the top level is
;                       a function, in a class or module body a method).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.require           the feature a `require "..."` loads.
;   @import.require_relative  the path a `require_relative "..."` loads.
; Captures starting with `_` only feed predicates.

; ---------------------------------------------------------------- definitions

(class name: (constant) @name) @definition.class
(class name: (scope_resolution name: (constant) @name)) @definition.class
(module name: (constant) @name) @definition.module
(module name: (scope_resolution name: (constant) @name)) @definition.module
(class body: (body_statement (method name: (_) @name) @definition.method))
(module body: (body_statement (method name: (_) @name) @definition.method))
(singleton_class body: (body_statement (method name: (_) @name) @definition.method))
(program (method name: (_) @name) @definition.function)
(singleton_method name: (_) @name) @definition.method
(assignment left: (constant) @name) @definition.constant

; ----------------------------------------------------------------- references

((call method: (identifier) @reference.call)
  (#not-any-of? @reference.call "require" "require_relative"))
(constant) @reference.constant

; -------------------------------------------------------------------- imports

((call
   method: (identifier) @_require
   arguments: (argument_list . (string . (string_content) @import.require .)))
  (#eq? @_require "require"))
((call
   method: (identifier) @_require
   arguments: (argument_list . (string . (string_content) @import.require_relative .)))
  (#eq? @_require "require_relative"))
