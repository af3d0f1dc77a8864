// The engine uses the public WebAssembly types of <kiln/types.hpp> under its own namespace.
#pragma once

#include <kiln/types.hpp>

namespace kiln::engine {

using kiln::extern_kind_name;
using kiln::ExternKind;
using kiln::FuncType;
using kiln::functype_string;
using kiln::GlobalType;
using kiln::is_reftype;
using kiln::Limits;
using kiln::max_pages;
using kiln::MemoryType;
using kiln::page_size;
using kiln::TableType;
using kiln::ValType;
using kiln::valtype_from_byte;
using kiln::valtype_name;

} // namespace kiln::engine
