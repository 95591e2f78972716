# cmake -DINPUT=program.bpf.o -DOUTPUT=program_object.cpp -P embed.cmake: the object as a C++ array.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "// Generated from program.bpf.c at build time.\n#include \"server/xdp/program.hpp\"\n\nnamespace xdp {\nnamespace {\nconstexpr unsigned char kProgram[] = {\n${bytes}};\n}  // namespace\nstd::span<const unsigned char> program_object() { return kProgram; }\n}  // namespace xdp\n")
