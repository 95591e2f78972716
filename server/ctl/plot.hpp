#pragma once
// Renders smear curves as an SVG a person can put in a change request: offset from true UTC
// against time around the leap, labelled axes, a legend. Pure: samples in, text out.

#include <string>
#include <vector>

namespace ctl {

struct Curve {
  std::string label;
  std::vector<double> hours;           // x: hours from the leap (true UTC midnight)
  std::vector<double> offset_seconds;  // y: served minus true UTC
};

struct Plot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Curve> curves;
};

std::string render_svg(const Plot& plot);

}  // namespace ctl
