// The engine uses the public WebAssembly types of <kiln/types.hpp> under its own namespace.
#pragma once

#include <kiln/types.hpp>

namespace kiln::engine {

using kiln::ExternKind;
using kiln::FuncType;
using kiln::GlobalType;
using kiln::Limits;
using kiln::MemoryType;
using kiln::TableType;
using kiln::ValType;
using kiln::extern_kind_name;
using kiln::functype_string;
using kiln::is_reftype;
using kiln::max_pages;
using kiln::page_size;
using kiln::valtype_from_byte;
using kiln::valtype_name;

} // namespace kiln::engine
