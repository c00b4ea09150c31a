/* bench/size/sn.c - securenet's implementation, the translation unit `make
   size` counts as securenet's own code (bench/size.sh). The SN_ENABLE_*
   switches come from the command line. */
#define SN_NO_FILES 1
#define SECURENET_IMPLEMENTATION
#include "securenet.h"
