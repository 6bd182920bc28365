// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "metrika",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "metrika", targets: ["metrika"]),
    ],
    targets: [
        .systemLibrary(name: "CRabbitMQ", path: "Sources/CRabbitMQ", pkgConfig: "librabbitmq"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3"),
        .target(name: "MetrikaDomain"),
        .target(name: "MetrikaStore", dependencies: ["CSQLite", "MetrikaDomain"]),
        .target(name: "MetrikaAMQP", dependencies: ["CRabbitMQ"]),
        .target(
            name: "MetrikaGateway",
            dependencies: ["MetrikaDomain", "MetrikaStore", "MetrikaAMQP"],
            resources: [.copy("Resources/catalog.json")]
        ),
        .target(name: "MetrikaReports", dependencies: ["MetrikaDomain", "MetrikaStore"]),
        .executableTarget(name: "metrika", dependencies: ["MetrikaGateway", "MetrikaReports"]),
        .target(
            name: "MetrikaTestSupport",
            dependencies: ["MetrikaAMQP", "MetrikaGateway", "MetrikaStore", "MetrikaDomain"],
            path: "Tests/MetrikaTestSupport"
        ),
        .testTarget(name: "MetrikaDomainTests", dependencies: ["MetrikaDomain"]),
        .testTarget(
            name: "MetrikaIntegrationTests",
            dependencies: ["MetrikaGateway", "MetrikaStore", "MetrikaAMQP", "MetrikaReports", "MetrikaTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
