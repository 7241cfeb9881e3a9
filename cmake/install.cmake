# What `cmake --install` puts under the prefix, and what the .deb holds (cmake/packaging.cmake):
#   bin/flavourgraph
#   share/man/man1/flavourgraph.1.gz                 docs/man/flavourgraph.1, gzipped by the build
#   share/bash-completion/completions/flavourgraph   cli/completion/flavourgraph.bash
#   share/zsh/vendor-completions/_flavourgraph       cli/completion/_flavourgraph
#   share/doc/flavourgraph/README.md, docs/*.md, docs/schema/*.json  (the README's links hold)
# tests/install/check_install.py installs into a temporary prefix and checks this list.
include(GNUInstallDirs)

install(TARGETS flavourgraph RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(FG_MAN_PAGE ${PROJECT_SOURCE_DIR}/docs/man/flavourgraph.1)
find_program(FG_GZIP gzip)
if(FG_GZIP)
  # -n: no name or time in the header, so the same page gives the same bytes.
  add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/flavourgraph.1.gz
    COMMAND sh -c "\"$0\" -9 -n -c \"$1\" >\"$2\"" ${FG_GZIP} ${FG_MAN_PAGE} ${PROJECT_BINARY_DIR}/flavourgraph.1.gz
    DEPENDS ${FG_MAN_PAGE}
    COMMENT "Compressing the man page"
    VERBATIM)
  add_custom_target(fg_man_page ALL DEPENDS ${PROJECT_BINARY_DIR}/flavourgraph.1.gz)
  install(FILES ${PROJECT_BINARY_DIR}/flavourgraph.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
else()
  install(FILES ${FG_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/flavourgraph.bash
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME flavourgraph)
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/_flavourgraph
        DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)

file(GLOB FG_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
file(GLOB FG_DOC_SCHEMAS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/schema/*.json)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${FG_DOC_PAGES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
if(FG_DOC_SCHEMAS)
  install(FILES ${FG_DOC_SCHEMAS} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs/schema)
endif()
