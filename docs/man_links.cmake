# cmake -DHEADER=include/sfmpi/sf.h -DMANDIR=<build>/docs/man/man3 -P docs/man_links.cmake
# Doxygen writes one man page for the header (sf.h.3) and one per struct; this adds a
# one-line page per public function and macro of the header (`.so man3/sf.h.3`), so that
# `man sf_run` or `man SF_REMOTE` opens the header's page. Names already taken by a
# struct's own page are left alone.
file(STRINGS ${HEADER} lines REGEX "^(SF_API|#define)")
set(names "")
foreach(line IN LISTS lines)
  if(line MATCHES "^SF_API[^(]*[ *]([a-z][a-z0-9_]*)\\(")
    list(APPEND names ${CMAKE_MATCH_1})
  elseif(line MATCHES "^#define ((sf|SF)_[A-Za-z0-9_]*)")
    list(APPEND names ${CMAKE_MATCH_1})
  endif()
endforeach()
list(REMOVE_DUPLICATES names)
set(n 0)
foreach(name IN LISTS names)
  if(name MATCHES "^(sf__|SF__)|^SFMPI_SF_H$|_MAP$" OR name STREQUAL "SF_API"
     OR name STREQUAL "SF_NODISCARD" OR name STREQUAL "SF_PRINTF" OR EXISTS ${MANDIR}/${name}.3)
    continue()
  endif()
  file(WRITE ${MANDIR}/${name}.3 ".so man3/sf.h.3\n")
  math(EXPR n "${n} + 1")
endforeach()
message(STATUS "man3: ${n} pages pointing to sf.h.3")
