; Tag query for Kotlin (tree-sitter-kotlin-ng), run by src/parse/tags.rs in a
; single pass. Written for swe-sleep (the grammar ships no tag query).
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class interface
;                       enum function method type constant variant (a node caught
;                       twice keeps the more specific kind).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.qualified   an import directive (decoded in code: the dotted
;                       name, and whether it ends with `.*`).

; ---------------------------------------------------------------- definitions

(class_declaration name: (identifier) @name) @definition.class
(class_declaration "interface" name: (identifier) @name) @definition.interface
((class_declaration
   (modifiers (class_modifier) @_enum)
   name: (identifier) @name) @definition.enum
  (#eq? @_enum "enum"))
(object_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(class_body (function_declaration name: (identifier) @name) @definition.method)
(type_alias type: (identifier) @name) @definition.type
(enum_entry (identifier) @name) @definition.variant
((property_declaration (variable_declaration (identifier) @name)) @definition.constant
  (#match? @name "^[A-Z][A-Z0-9_]*$"))

; ----------------------------------------------------------------- references

(call_expression . (identifier) @reference.call)
(call_expression . (navigation_expression (identifier) @reference.call .))
(navigation_expression (identifier) @reference.field .)
(user_type (identifier) @reference.type)

; -------------------------------------------------------------------- imports

(import) @import.qualified
