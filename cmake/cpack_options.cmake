# Read by cpack when it runs (CPACK_PROJECT_CONFIG_FILE), once per generator.
if(CPACK_GENERATOR STREQUAL "DEB")
  find_program(FG_DPKG_SHLIBDEPS dpkg-shlibdeps)
  if(NOT FG_DPKG_SHLIBDEPS)
    message(WARNING "dpkg-shlibdeps (apt-get install dpkg-dev) is not installed: the .deb depends on "
                    "Debian 12's library packages by name, without versions")
    set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
    set(CPACK_DEBIAN_PACKAGE_DEPENDS "${CPACK_FG_DEB_DEPENDS}")
  endif()
endif()
