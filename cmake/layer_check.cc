// Linked with one layer's library whole and only the layers below it: a symbol the layer uses
// from a layer above is undefined, and the build fails (CMakeLists.txt, fg_layer).
int main() { return 0; }
