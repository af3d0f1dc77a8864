/* greeter (C): hands its input to the host function `hello` (module extism:host/user, type
 * (i64) -> i64: a block in, a block out) and outputs the block it returns. Freestanding. */
#include <kiln/pdk.h>

KILN_HOST_USER_FN("hello") uint64_t hello(uint64_t input);

KILN_EXPORT(greet) {
    /* A copy the plugin owns, rather than the host's input block, so that the host function
     * gets an ordinary block it may read, keep or free. */
    kiln_handle_t input = kiln_input_to_block();
    if (!input && kiln_input_length() > 0) return kiln_fail("out of kernel memory");

    kiln_handle_t result = hello(input);
    if (result != input) kiln_mem_free(input); /* a host may answer with the same block */
    if (!result) return kiln_fail("the host function hello returned no block");
    kiln_output_set_block(result, kiln_mem_length(result));
    return 0;
}
