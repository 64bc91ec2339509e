# Samskap.cmake: helpers shared by every part's CMakeLists.txt.

include(FindPkgConfig)

# sk_part_enabled(NAME OUT): is part NAME in SAMSKAP_PARTS (or "all")?
function(sk_part_enabled name out)
  if("all" IN_LIST SAMSKAP_PARTS OR "${name}" IN_LIST SAMSKAP_PARTS)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# sk_add_part(NAME DIR): add DIR when it has a CMakeLists.txt and NAME is enabled.
function(sk_add_part name dir)
  sk_part_enabled(${name} part_on)
  if(part_on AND EXISTS ${CMAKE_SOURCE_DIR}/${dir}/CMakeLists.txt)
    add_subdirectory(${dir})
  endif()
endfunction()

# sk_add_subdirs(DIR): add every DIR/<part> folder with a CMakeLists.txt whose
# part is enabled.  Folder names are part names (tests/water, bench/bus, ...);
# folders that are not parts (tests/unit, tests/integration) follow "bus".
function(sk_add_subdirs dir)
  file(GLOB children RELATIVE ${CMAKE_SOURCE_DIR}/${dir} ${CMAKE_SOURCE_DIR}/${dir}/*)
  list(SORT children)
  foreach(child ${children})
    if(EXISTS ${CMAKE_SOURCE_DIR}/${dir}/${child}/CMakeLists.txt)
      set(part ${child})
      if(child STREQUAL "unit" OR child STREQUAL "integration" OR child STREQUAL "fuzz")
        set(part bus)
      endif()
      sk_part_enabled(${part} part_on)
      if(part_on)
        add_subdirectory(${dir}/${child})
      endif()
    endif()
  endforeach()
endfunction()

# SuiteSparse on Debian 12 ships no pkg-config files: find the libraries.
function(sk_find_suitesparse)
  if(TARGET SuiteSparse::cholmod)
    return()
  endif()
  find_path(SUITESPARSE_INCLUDE_DIR cholmod.h PATH_SUFFIXES suitesparse REQUIRED)
  foreach(lib cholmod klu amd colamd camd ccolamd btf suitesparseconfig)
    find_library(SUITESPARSE_${lib}_LIBRARY NAMES ${lib} REQUIRED)
    add_library(SuiteSparse::${lib} UNKNOWN IMPORTED GLOBAL)
    set_target_properties(SuiteSparse::${lib} PROPERTIES
      IMPORTED_LOCATION ${SUITESPARSE_${lib}_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${SUITESPARSE_INCLUDE_DIR})
  endforeach()
endfunction()

# sk_add_test(NAME COMMAND ... [TIMEOUT s] [LABELS l...]): a ctest test with a
# time bound, run from the build directory.
function(sk_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "COMMAND;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_test(NAME ${name} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${CMAKE_BINARY_DIR})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "SAMSKAP_SOURCE=${CMAKE_SOURCE_DIR};SAMSKAP_SHARED_DATA=${SAMSKAP_SHARED_DATA};SAMSKAP_BUILD=${CMAKE_BINARY_DIR};ASAN_OPTIONS=detect_leaks=1:abort_on_error=0;UBSAN_OPTIONS=print_stacktrace=1;${T_ENVIRONMENT}"
    SKIP_RETURN_CODE 77)
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()

# sk_add_fuzzer(NAME SOURCES src... LIBS lib... [CORPUS dir]): a libFuzzer
# target, built only with clang (the Sanitize build of `make check`).  It gets
# a ctest smoke run; `make fuzz` runs it longer (SAMSKAP_FUZZ_SECONDS).
function(sk_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    return()
  endif()
  add_executable(${name} ${F_SOURCES})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined -g -O1)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_test(NAME fuzz.${name}
    COMMAND sh ${CMAKE_SOURCE_DIR}/tests/fuzz/run-fuzzer.sh $<TARGET_FILE:${name}>
            ${CMAKE_BINARY_DIR}/fuzz/${name}.corpus "${F_CORPUS}")
  set_tests_properties(fuzz.${name} PROPERTIES TIMEOUT 120 LABELS fuzz)
  set_property(GLOBAL APPEND PROPERTY SAMSKAP_FUZZERS ${name})
endfunction()

# sk_test_executable(NAME src... LIBS lib...): a test program in build/tests/.
function(sk_test_executable name)
  cmake_parse_arguments(E "" "" "LIBS" ${ARGN})
  add_executable(${name} ${E_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${E_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
endfunction()

# sk_bench_executable(NAME src... LIBS lib...): a benchmark in build/bench/.
function(sk_bench_executable name)
  cmake_parse_arguments(E "" "" "LIBS" ${ARGN})
  add_executable(${name} ${E_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE ${E_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
  set_property(GLOBAL APPEND PROPERTY SAMSKAP_BENCHES ${name})
endfunction()
