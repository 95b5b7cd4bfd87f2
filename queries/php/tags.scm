; Tag query for PHP, run by src/parse/tags.rs in a single pass. Written for
; swe-sleep; the shapes follow the tags.scm that tree-sitter-php ships (MIT),
; in this project's capture names.
;
; Capture names:
;   @definition.<kind>  the defining node; <kind> is one of class interface
;                       trait enum function method constant field module
;                       variant
;   @name               the name of that definition (same pattern).
;   @reference.<what>   an identifier this file refers to; <what> is
;                       informative only.
;   @import.php_use     a `use` declaration (decoded in code, group uses
;                       expanded).

; ---------------------------------------------------------------- definitions

(class_declaration name: (name) @name) @definition.class
(interface_declaration name: (name) @name) @definition.interface
(trait_declaration name: (name) @name) @definition.trait
(enum_declaration name: (name) @name) @definition.enum
(enum_case name: (name) @name) @definition.variant
(function_definition name: (name) @name) @definition.function
(method_declaration name: (name) @name) @definition.method
(const_declaration (const_element (name) @name)) @definition.constant
(property_declaration (property_element name: (variable_name (name) @name))) @definition.field
(namespace_definition name: (namespace_name) @name) @definition.module

; ----------------------------------------------------------------- references

(function_call_expression function: (name) @reference.call)
(function_call_expression function: (qualified_name (name) @reference.call .))
(member_call_expression name: (name) @reference.call)
(scoped_call_expression name: (name) @reference.call)
(scoped_call_expression scope: (name) @reference.class)
(object_creation_expression (name) @reference.class)
(object_creation_expression (qualified_name (name) @reference.class .))
(named_type (name) @reference.type)
(base_clause (name) @reference.class)
(class_interface_clause (name) @reference.type)
(member_access_expression name: (name) @reference.field)

; -------------------------------------------------------------------- imports

(namespace_use_declaration) @import.php_use
