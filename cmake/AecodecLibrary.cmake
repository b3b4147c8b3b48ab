# aecodec as an installable C++ library: the public API (include/aecodec/aecodec.h, implemented over the core
# in shared/api/) plus install rules and a CMake package, so that another project can write
#   find_package(aecodec CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE aecodec::aecodec)
# against an install prefix (docs/library.md). Included from shared/CMakeLists.txt once aecodec_core exists.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
# The repository's root, also when the core is built from another project (native/onnx on its own).
get_filename_component(AEC_ROOT_DIR ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)
set(AEC_LIBRARY_VERSION ${aecodec_VERSION})  # the top-level project()'s
if(NOT AEC_LIBRARY_VERSION)
  set(AEC_LIBRARY_VERSION ${PROJECT_VERSION})
endif()

# "aecodec" is the CLI's target name, so the library's target has another one; it installs as libaecodec.a
# and is exported, and aliased in this tree, as aecodec::aecodec.
add_library(aecodec_lib STATIC ${AEC_ROOT_DIR}/shared/api/aecodec.cpp)
add_library(aecodec::aecodec ALIAS aecodec_lib)
set_target_properties(aecodec_lib PROPERTIES OUTPUT_NAME aecodec EXPORT_NAME aecodec)
target_include_directories(aecodec_lib PUBLIC $<BUILD_INTERFACE:${AEC_ROOT_DIR}/include>
                                              $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
# PRIVATE: users see the public header only, never the core's headers (which include nlohmann/json). The
# core is still a link dependency of the static library, so it is installed and exported too
# (aecodec::aecodec_core, not meant for direct use) and the package config finds its dependencies.
target_link_libraries(aecodec_lib PRIVATE aecodec_core)
target_compile_features(aecodec_lib PUBLIC cxx_std_17)
target_compile_definitions(aecodec_lib PRIVATE AECODEC_LIBRARY_VERSION="${AEC_LIBRARY_VERSION}")
target_compile_options(aecodec_lib PRIVATE -Wall -Wextra)
# A sanitized build's libraries call the sanitizers' runtime: a program linking them needs it too.
if(AEC_SANITIZE)
  target_link_options(aecodec_lib INTERFACE -fsanitize=address,undefined)
endif()

set(AEC_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/aecodec)
install(TARGETS aecodec_lib aecodec_core EXPORT aecodecTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${AEC_ROOT_DIR}/include/aecodec/aecodec.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aecodec)
install(EXPORT aecodecTargets NAMESPACE aecodec:: DESTINATION ${AEC_PACKAGE_DIR})
configure_package_config_file(${AEC_ROOT_DIR}/cmake/aecodecConfig.cmake.in
                              ${CMAKE_CURRENT_BINARY_DIR}/aecodecConfig.cmake
                              INSTALL_DESTINATION ${AEC_PACKAGE_DIR})
# 0.x: a new minor version may change the header, so only the same minor version satisfies a request.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/aecodecConfigVersion.cmake
                                 VERSION ${AEC_LIBRARY_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/aecodecConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/aecodecConfigVersion.cmake DESTINATION ${AEC_PACKAGE_DIR})
