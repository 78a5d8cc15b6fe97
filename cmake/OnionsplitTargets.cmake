# Helpers that every folder uses to declare its targets in one line each.
#
#   os_pure_library(NAME SOURCES ... DEPS ...)  a pure (I/O-free) library: may link only other pure
#                                               libraries and OpenSSL::Crypto (checked by
#                                               scripts/check-layering.sh).
#   os_library(NAME SOURCES ... DEPS ...)       a library that may do I/O (common/ipc, daemons).
#   os_test(NAME SOURCES ... DEPS ...)          a GoogleTest program registered with ctest.
#   os_fuzzer(NAME SOURCES ... DEPS ...)        a libFuzzer target; without ONIONSPLIT_FUZZ it becomes a
#                                               plain program that replays its seed corpus under ctest.
#   os_bench(NAME SOURCES ... DEPS ...)         a Google Benchmark program (prints a RESULT line).

function(os_pure_library name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;DEPS")
  if(NOT A_SOURCES)
    # A header-only pure library (or one whose sources have not landed yet).
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${name} INTERFACE onionsplit_flags ${A_DEPS})
    set_property(GLOBAL APPEND PROPERTY ONIONSPLIT_PURE_LIBS ${name})
    return()
  endif()
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC onionsplit_flags ${A_DEPS})
  set_property(GLOBAL APPEND PROPERTY ONIONSPLIT_PURE_LIBS ${name})
endfunction()

function(os_library name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;DEPS")
  if(NOT A_SOURCES)
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
    target_link_libraries(${name} INTERFACE onionsplit_flags ${A_DEPS})
    return()
  endif()
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PUBLIC onionsplit_flags ${A_DEPS})
endfunction()

function(os_test name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;DEPS;LABELS")
  if(NOT ONIONSPLIT_TESTS)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/tests)
  if(NOT ONIONSPLIT_TESTS_IN_ALL)
    set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_compile_definitions(${name} PRIVATE ONIONSPLIT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_link_libraries(${name} PRIVATE onionsplit_flags ${A_DEPS} GTest::gtest GTest::gmock
    GTest::gtest_main)
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT 300)
endfunction()

function(os_fuzzer name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;DEPS")
  set(corpus ${PROJECT_SOURCE_DIR}/fuzz/corpus/${name})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE onionsplit_flags ${A_DEPS})
  if(ONIONSPLIT_FUZZ)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set_property(GLOBAL APPEND PROPERTY ONIONSPLIT_FUZZERS ${name})
  else()
    if(NOT ONIONSPLIT_TESTS_IN_ALL)
      set_target_properties(${name} PROPERTIES EXCLUDE_FROM_ALL ON)
    endif()
    # One compiled replay main shared by every target, not one compile per fuzzer.
    if(NOT TARGET os_fuzz_replay)
      add_library(os_fuzz_replay STATIC ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
      target_link_libraries(os_fuzz_replay PRIVATE onionsplit_flags)
    endif()
    target_link_libraries(${name} PRIVATE os_fuzz_replay)
    if(ONIONSPLIT_TESTS)
      add_test(NAME ${name}_corpus COMMAND ${name} ${corpus})
      set_tests_properties(${name}_corpus PROPERTIES LABELS "fuzz-corpus" TIMEOUT 120)
    endif()
  endif()
endfunction()

function(os_bench name)
  cmake_parse_arguments(PARSE_ARGV 1 A "" "" "SOURCES;DEPS")
  if(NOT ONIONSPLIT_BENCH)
    return()
  endif()
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  target_link_libraries(${name} PRIVATE onionsplit_flags ${A_DEPS} os_bench_support
    benchmark::benchmark)
endfunction()

# os_capnp_library(NAME schema.capnp ...): C++ generated from Cap'n Proto schemas. Generated headers
# live under <build>/gen/<path relative to the source root> (included as "proto/x.capnp.h") and are
# marked SYSTEM so our strict warnings apply to our code, not to capnpc's output.
function(os_capnp_library name)
  set(CAPNPC_SRC_PREFIX ${PROJECT_SOURCE_DIR})
  set(CAPNPC_OUTPUT_DIR ${PROJECT_BINARY_DIR}/gen)
  set(CAPNPC_IMPORT_DIRS ${PROJECT_SOURCE_DIR}/proto)
  file(MAKE_DIRECTORY ${PROJECT_BINARY_DIR}/gen)
  capnp_generate_cpp(srcs hdrs ${ARGN})
  add_library(${name} STATIC ${srcs} ${hdrs})
  target_include_directories(${name} SYSTEM PUBLIC ${PROJECT_BINARY_DIR}/gen)
  target_link_libraries(${name} PUBLIC CapnProto::capnp-rpc)
  # KJ and Cap'n Proto interfaces (kj::AsyncIoStream, kj::EventPort, generated ::Server classes) have
  # no virtual destructors by design (kj::Own's disposer knows the dynamic type), so code that
  # implements them cannot keep -Wnon-virtual-dtor.
  target_compile_options(${name} INTERFACE -Wno-non-virtual-dtor)
endfunction()
