# The Debian package: `cpack -G DEB` in a build configured with CMAKE_INSTALL_PREFIX=/usr
# (deploy/debian/setup.sh test builds it as a packager would). Runtime dependencies come from
# dpkg-shlibdeps; tzdata provides the leap files the default configuration reads.
set(CPACK_PACKAGE_NAME smeard)
set(CPACK_PACKAGE_VENDOR smeard)
# Whoever builds a package to distribute names themselves here (Debian's Maintainer field, and
# the changelog's signature).
set(SMEARD_PACKAGE_MAINTAINER "smeard maintainers <smeard@example.org>" CACHE STRING
    "Maintainer of the Debian package: NAME <EMAIL>")
set(CPACK_PACKAGE_CONTACT "${SMEARD_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "leap-second-smearing NTP server")
# Lines under 80 characters, as Debian's policy asks of the extended description.
set(CPACK_PACKAGE_DESCRIPTION
    "smeard serves NTP from a local reference through a leap smear (linear,\n\
cosine or quadratic, with the Google/AWS, ntpd, NTPsec and chrony presets),\n\
each listener on exactly one timescale: smeared time or true UTC with leap\n\
warnings. smearctl queries servers, prints and plots smear schedules and\n\
converts smeared time back to UTC.")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# passwd: postinst creates the smeard user with useradd.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "tzdata, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/conffiles ${CMAKE_CURRENT_LIST_DIR}/postinst)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
# What Debian's policy asks every package to carry in /usr/share/doc/PACKAGE: the copyright
# file and the Debian changelog, gzipped with -9n.
include(GNUInstallDirs)
configure_file(${CMAKE_CURRENT_LIST_DIR}/changelog.in ${CMAKE_BINARY_DIR}/debian/changelog.Debian @ONLY)
find_program(SMEARD_GZIP gzip REQUIRED)
execute_process(COMMAND ${SMEARD_GZIP} -9n -c ${CMAKE_BINARY_DIR}/debian/changelog.Debian
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.Debian.gz ${CMAKE_CURRENT_LIST_DIR}/copyright
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
include(CPack)
