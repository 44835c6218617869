"""Exercise figures: a posed human drawn from joint angles as small SVG (hep/figures).

skeleton.py holds proportions, joints and their human ranges; kinematics.py turns angles into
positions; poses.py the named base postures; spec.py reads a figure description and validates
it; scene.py places the body on its support with its props; render.py writes the SVG.
"""
