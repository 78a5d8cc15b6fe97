# Warning and sanitizer flags shared by every onionsplit target.
add_library(onionsplit_flags INTERFACE)
target_compile_options(onionsplit_flags INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
  -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports -Wrestrict inside libstdc++'s std::string at -O3 (GCC bug 105329), a false positive.
  target_compile_options(onionsplit_flags INTERFACE -Wno-restrict)
endif()
if(ONIONSPLIT_WERROR)
  target_compile_options(onionsplit_flags INTERFACE -Werror)
endif()
if(ONIONSPLIT_SANITIZE)
  target_compile_options(onionsplit_flags INTERFACE -fsanitize=address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(onionsplit_flags INTERFACE -fsanitize=address,undefined)
endif()
if(ONIONSPLIT_FUZZ)
  # Coverage instrumentation for every library, so libFuzzer sees inside the code it feeds.
  target_compile_options(onionsplit_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
