Kadomon ludon kadokon kumana zun man dopan .
Kumana rubuhan madowan kadomon zuzuxan bun .
Kadomon kan mapano kumana rukan wagukon bun mowaxan kumana guzuxan .
Kadomon kan kadomon kogun madowan dopan mowaxan kumana guzuxan .
Kadomon zun buruhan kadomon kogun kadokon bun mowaxan kumana kagun .
Kadomon kuxarun kumana kuxarun waxuzun .
Kadomon zun zuran kumana raman man gulon .
Kumana mapan wakun kadomon xuna man dopan mowaxan kumana rukon .
Kadomon rubuhan han kumana kupan gulon .
Kadomon ludon kadokon kadomon wazun budon mowaxan kumana haruran .
Kumana xupan buzun kumana zuzuxan bun .
Kumana xakon zuran kadomon mapan gulon .
Kadomon ludon mapano kadomon bukumon kadokon run .
Kumana gudon han kumana pan wakun zubun .
Kadomon doguzun kumana rubuhan wakun zubun mowaxan kumana haruran .
Kumana mapan kumana kuman wakun runa .
