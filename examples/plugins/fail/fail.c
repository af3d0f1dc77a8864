/* fail (C): always fails, with an error message, to show how a plugin reports failure. */
#include <kiln/pdk.h>

KILN_EXPORT(fail) {
    kiln_error_set_str("this plugin fails on purpose");
    return 1;
}
