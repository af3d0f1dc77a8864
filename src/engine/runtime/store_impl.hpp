// What a Store owns, for the files that implement it (store.cpp, snapshot.cpp).
#pragma once

#include "engine/runtime/store.hpp"

#include <map>
#include <memory>
#include <vector>

namespace kiln::engine {

struct Store::Impl {
    /// Functions in blocks (one per instance, one per host function); `func_blocks` maps each
    /// block's first function to its length, so that a funcref word from outside can be checked.
    std::vector<std::unique_ptr<FuncInst[]>> funcs;
    std::map<const FuncInst*, size_t, std::greater<>> func_blocks;

    FuncInst* new_funcs(size_t n) {
        funcs.push_back(std::make_unique<FuncInst[]>(n));
        FuncInst* block = funcs.back().get();
        func_blocks.emplace(block, n);
        return block;
    }
    std::vector<std::unique_ptr<TableInst>> tables;
    std::vector<std::unique_ptr<MemoryInst>> memories;
    std::vector<std::unique_ptr<GlobalInst>> globals;
    std::vector<std::unique_ptr<Instance>> instances;
    size_t stack_bytes = 0;
    std::unique_ptr<Frame[]> frames; ///< not zero-filled: pages are touched only when used
    ExecControl control;
    ResourceLimiter limiter;
};

} // namespace kiln::engine
