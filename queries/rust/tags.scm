; Tag query for Rust, run by src/parse/tags.rs in a single pass.
;
; Capture names:
;   @definition.<kind>  the whole defining node; <kind> is one of
;                       function method struct enum trait impl module
;                       constant type macro field variant
;                       (the runner maps it to `DefKind`; when one node is
;                       captured as both function and method, method wins).
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> (call, type,
;                       macro, field, path) is informative only.
;   @import.use         the argument of a `use` declaration (expanded in code).
;   @import.mod         a `mod foo;` declaration without a body.
; Definition name nodes are never reported as references, except impl types.

; ---------------------------------------------------------------- definitions

(function_item name: (identifier) @name) @definition.function
(function_signature_item name: (identifier) @name) @definition.function

(impl_item
  body: (declaration_list
    (function_item name: (identifier) @name) @definition.method))

(trait_item
  body: (declaration_list
    [(function_item name: (identifier) @name)
     (function_signature_item name: (identifier) @name)] @definition.method))

(struct_item name: (type_identifier) @name) @definition.struct
(union_item name: (type_identifier) @name) @definition.struct
(enum_item name: (type_identifier) @name) @definition.enum
(trait_item name: (type_identifier) @name) @definition.trait

(impl_item type: (type_identifier) @name) @definition.impl
(impl_item type: (generic_type type: (type_identifier) @name)) @definition.impl
(impl_item type: (scoped_type_identifier name: (type_identifier) @name)) @definition.impl
(impl_item
  type: (generic_type type: (scoped_type_identifier name: (type_identifier) @name))) @definition.impl

(mod_item name: (identifier) @name) @definition.module
(macro_definition name: (identifier) @name) @definition.macro
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(type_item name: (type_identifier) @name) @definition.type
(associated_type name: (type_identifier) @name) @definition.type

(field_declaration name: (field_identifier) @name) @definition.field
(enum_variant name: (identifier) @name) @definition.variant

; ----------------------------------------------------------------- references

(call_expression function: (identifier) @reference.call)
(call_expression function: (scoped_identifier name: (identifier) @reference.call))
(call_expression function: (field_expression field: (field_identifier) @reference.call))
(call_expression
  function: (generic_function
    function: [(identifier) @reference.call
               (scoped_identifier name: (identifier) @reference.call)
               (field_expression field: (field_identifier) @reference.call)]))

(macro_invocation macro: (identifier) @reference.macro)
(macro_invocation macro: (scoped_identifier name: (identifier) @reference.macro))

(type_identifier) @reference.type

(field_expression field: (field_identifier) @reference.field)

; `Foo::new()`, `Kind::Variant`: capitalised path heads are type uses.
((scoped_identifier path: (identifier) @reference.path)
  (#match? @reference.path "^[A-Z]"))
((scoped_identifier name: (identifier) @reference.path)
  (#match? @reference.path "^[A-Z]"))

; Inside macro arguments (token trees): `foo(` calls and capitalised names.
((token_tree (identifier) @reference.call . (token_tree)))
((token_tree (identifier) @reference.type)
  (#match? @reference.type "^[A-Z][A-Za-z0-9_]*[a-z][A-Za-z0-9_]*$"))

; -------------------------------------------------------------------- imports

(use_declaration argument: (_) @import.use)
(mod_item !body) @import.mod
