// doctest main of the sim suite: ./test_sim (see doctest --help for filters).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
